import { InvalidArgumentError, type JobEnvelope, type JobFailure } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { reserveOrFail, testEnvelope, testFailure } from '../helpers.js';

/** deadLetter() and the dead-letter store. */
export function describeDeadLetters(f: ContractFixture): void {
  const caps = f.capabilities;

  /** Pushes, reserves and dead-letters one job of `queue` with `failure`. */
  async function deadLettered(queue: string, failure: Partial<JobFailure> = {}): Promise<JobEnvelope> {
    const envelope = testEnvelope(queue);
    await f.driver().push([envelope]);
    const reservation = await reserveOrFail(f.driver(), [queue]);
    expect(reservation.id).toBe(envelope.id);
    await f.driver().deadLetter(reservation, testFailure(failure));
    return envelope;
  }

  describe.skipIf(caps.inline)('dead letters', () => {
    it('deadLetter() moves the job into the store with its error, stack, attempts, reason and times', async () => {
      const queue = f.queue();
      const failure = testFailure({ reason: 'max-deliveries', attempts: 3, firstFailedAt: 1_700_000_000_000, failedAt: 1_700_000_005_000 });
      const envelope = testEnvelope(queue, { name: 'contract-failing', payload: { k: 'v' } });
      await f.driver().push([envelope]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      await f.driver().deadLetter(reservation, failure);

      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, reserved: 0, delayed: 0, dead: 1 });
      const entry = await f.driver().deadLetters.get(envelope.id);
      expect(entry).toMatchObject({
        id: envelope.id,
        queue,
        name: 'contract-failing',
        reason: 'max-deliveries',
        attempts: 3,
        firstFailedAt: 1_700_000_000_000,
        failedAt: 1_700_000_005_000,
        error: { name: 'Error', message: failure.error.message, stack: failure.error.stack },
      });
      expect(entry?.envelope?.id).toBe(envelope.id);
      expect(entry?.envelope?.payload).toEqual({ k: 'v' });
    });

    it('get() of an unknown id resolves undefined and retry() of it resolves false', async () => {
      expect(await f.driver().deadLetters.get('no-such-job-id')).toBeUndefined();
      expect(await f.driver().deadLetters.retry('no-such-job-id')).toBe(false);
    });

    it('list() returns the entries of a queue most recently failed first, with limit and offset', async () => {
      const queue = f.queue();
      const other = f.queue();
      const base = Date.now() - 10_000;
      const jobs: JobEnvelope[] = [];
      for (let i = 0; i < 4; i += 1) jobs.push(await deadLettered(queue, { failedAt: base + i * 1_000, firstFailedAt: base }));
      await deadLettered(other);

      const all = await f.driver().deadLetters.list({ queue });
      expect(all.map((e) => e.id)).toEqual([...jobs].reverse().map((e) => e.id));
      const page = await f.driver().deadLetters.list({ queue, limit: 2, offset: 1 });
      expect(page.map((e) => e.id)).toEqual([jobs[2]!.id, jobs[1]!.id]);
      const older = await f.driver().deadLetters.list({ queue, failedBefore: base + 1_500 });
      expect(older.map((e) => e.id)).toEqual([jobs[1]!.id, jobs[0]!.id]);
    });

    it('count() counts the entries of a queue, optionally only those failed before a time', async () => {
      const queue = f.queue();
      const base = Date.now() - 10_000;
      for (let i = 0; i < 3; i += 1) await deadLettered(queue, { failedAt: base + i * 1_000 });
      await deadLettered(f.queue());
      expect(await f.driver().deadLetters.count({ queue })).toBe(3);
      expect(await f.driver().deadLetters.count({ queue, failedBefore: base + 1_500 })).toBe(2);
      expect(await f.driver().deadLetters.count({ queue: f.queue() })).toBe(0);
    });

    it('retry() puts the job back as a fresh delivery and removes the entry', async () => {
      const queue = f.queue();
      const envelope = await deadLettered(queue, { attempts: 3 });
      expect(await f.driver().deadLetters.retry(envelope.id)).toBe(true);
      expect(await f.driver().deadLetters.get(envelope.id)).toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ dead: 0, ready: 1 });
      const again = await reserveOrFail(f.driver(), [queue]);
      expect(again.id).toBe(envelope.id);
      expect(again).toMatchObject({ attempt: 1, lostDeliveries: 0 });
      expect(again.envelope?.payload).toEqual(envelope.payload);
      expect(await f.driver().deadLetters.retry(envelope.id)).toBe(false);
    });

    it('retryAll() retries only the entries of the queue it is given and returns how many', async () => {
      const queue = f.queue();
      const other = f.queue();
      await deadLettered(queue);
      await deadLettered(queue);
      const stays = await deadLettered(other);
      expect(await f.driver().deadLetters.retryAll({ queue })).toBe(2);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 2, dead: 0 });
      expect(await f.driver().deadLetters.count({ queue: other })).toBe(1);
      expect(await f.driver().deadLetters.get(stays.id)).toBeDefined();
      expect(await f.driver().deadLetters.retryAll({ queue })).toBe(0);
    });

    it('purge() deletes the matching entries and returns how many', async () => {
      const queue = f.queue();
      const other = f.queue();
      const base = Date.now() - 10_000;
      await deadLettered(queue, { failedAt: base });
      const recent = await deadLettered(queue, { failedAt: base + 5_000 });
      await deadLettered(other);
      expect(await f.driver().deadLetters.purge({ queue, failedBefore: base + 1_000 })).toBe(1);
      expect((await f.driver().deadLetters.list({ queue })).map((e) => e.id)).toEqual([recent.id]);
      expect(await f.driver().deadLetters.purge({ queue })).toBe(1);
      expect(await f.driver().deadLetters.count({ queue })).toBe(0);
      expect(await f.driver().deadLetters.count({ queue: other })).toBe(1);
      expect(await f.driver().stats(queue)).toMatchObject({ dead: 0 });
    });
    it('purgeIds() deletes exactly the entries it names, in any queue, and passes over unknown ids', async () => {
      const queue = f.queue();
      const other = f.queue();
      const gone = await deadLettered(queue);
      const alsoGone = await deadLettered(other);
      const stays = await deadLettered(queue);
      const ids = [gone.id, alsoGone.id, gone.id, 'no-such-job-id'];
      expect(await f.driver().deadLetters.purgeIds(ids)).toBe(2);
      expect(await f.driver().deadLetters.get(gone.id)).toBeUndefined();
      expect(await f.driver().deadLetters.get(alsoGone.id)).toBeUndefined();
      expect((await f.driver().deadLetters.list({ queue })).map((e) => e.id)).toEqual([stays.id]);
      expect(await f.driver().deadLetters.count({ queue: other })).toBe(0);
      expect(await f.driver().stats(queue)).toMatchObject({ dead: 1 });
      expect(await f.driver().deadLetters.purgeIds([gone.id])).toBe(0);
      expect(await f.driver().deadLetters.purgeIds([])).toBe(0);
    });

    it('purgeIds() refuses ids that are not non-empty strings with an InvalidArgumentError', async () => {
      await expect(f.driver().deadLetters.purgeIds([''])).rejects.toThrow(InvalidArgumentError);
      await expect(f.driver().deadLetters.purgeIds([42 as unknown as string])).rejects.toThrow(/purgeIds/);
      await expect(f.driver().deadLetters.purgeIds('job-1' as unknown as string[])).rejects.toThrow(/array/);
    });
  });
}
