import type { QueueDriver } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { reserveOrFail, sleep, testEnvelope, testFailure } from '../helpers.js';

/** stats, purge, ping, close, bulk push, unique keys, concurrent reservers, bad input, poison bodies. */
export function describeOperations(f: ContractFixture): void {
  const caps = f.capabilities;

  describe('stats, purge, ping and close', () => {
    it('stats() of a queue that was never used is all zeros', async () => {
      const queue = f.queue();
      expect(await f.driver().stats(queue)).toEqual({
        queue,
        ready: 0,
        delayed: 0,
        reserved: 0,
        dead: 0,
        oldestReadyAt: undefined,
        // Present exactly where the driver declares pause and retention.
        ...(caps.pause ? { paused: false } : {}),
        ...(caps.retention ? { completed: 0 } : {}),
      });
    });

    it.skipIf(caps.inline)('stats() counts ready, delayed, reserved and dead jobs of one queue', async () => {
      const queue = f.queue();
      const before = Date.now();
      await f.driver().push([testEnvelope(queue), testEnvelope(queue), testEnvelope(queue)]);
      if (caps.delay !== 'none') await f.driver().push([testEnvelope(queue, { availableAt: Date.now() + 60_000 })]);
      await f.driver().push([testEnvelope(f.queue())]);
      const reserved = await reserveOrFail(f.driver(), [queue]);
      const dead = await reserveOrFail(f.driver(), [queue]);
      await f.driver().deadLetter(dead, testFailure());
      const stats = await f.driver().stats(queue);
      expect(stats).toMatchObject({ queue, ready: 1, delayed: caps.delay === 'none' ? 0 : 1, reserved: 1, dead: 1 });
      expect(stats.oldestReadyAt).toBeGreaterThanOrEqual(before - 1_000);
      await f.driver().ack(reserved);
      expect(await f.driver().stats(queue)).toMatchObject({ reserved: 0, ready: 1 });
    });

    it.skipIf(caps.inline)('purge() deletes ready and delayed jobs, not reserved ones, and returns how many', async () => {
      const queue = f.queue();
      const other = f.queue();
      await f.driver().push([testEnvelope(queue), testEnvelope(queue), testEnvelope(queue), testEnvelope(other)]);
      if (caps.delay !== 'none') await f.driver().push([testEnvelope(queue, { availableAt: Date.now() + 60_000 })]);
      const held = await reserveOrFail(f.driver(), [queue]);
      expect(await f.driver().purge(queue)).toBe(caps.delay === 'none' ? 2 : 3);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 1 });
      expect(await f.driver().stats(other)).toMatchObject({ ready: 1 });
      await f.driver().ack(held);
      expect(await f.driver().purge(queue)).toBe(0);
    });

    it('ping() resolves a round-trip time in ms', async () => {
      const ms = await f.driver().ping();
      expect(typeof ms).toBe('number');
      expect(ms).toBeGreaterThanOrEqual(0);
    });

    it('after close() every call rejects with DriverClosedError, and close() again is harmless', async () => {
      const driver: QueueDriver = await f.openDriver();
      const queue = f.queue();
      await driver.close();
      await driver.close();
      const fake = { token: 't', id: 'i', queue, attempt: 1, lostDeliveries: 0, leaseExpiresAt: Date.now() + 1_000 };
      const closed = { name: 'DriverClosedError', code: 'DRIVER_CLOSED' };
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['push', () => driver.push([testEnvelope(queue)])],
        ['reserve', () => driver.reserve([queue], { leaseMs: 1_000, waitMs: 0 })],
        ['ack', () => driver.ack(fake)],
        ['release', () => driver.release(fake, { delayMs: 0 })],
        ['giveBack', () => driver.giveBack([fake])],
        ['extend', () => driver.extend(fake, 1_000)],
        ['deadLetter', () => driver.deadLetter(fake, testFailure())],
        ['stats', () => driver.stats(queue)],
        ['ping', () => driver.ping()],
        ['purge', () => driver.purge(queue)],
        ['deadLetters.list', () => driver.deadLetters.list({ queue })],
        ['deadLetters.get', () => driver.deadLetters.get('i')],
        ['deadLetters.retry', () => driver.deadLetters.retry('i')],
        ['deadLetters.retryAll', () => driver.deadLetters.retryAll({ queue })],
        ['deadLetters.purge', () => driver.deadLetters.purge({ queue })],
        ['deadLetters.count', () => driver.deadLetters.count({ queue })],
      ];
      const wrong: string[] = [];
      for (const [what, call] of calls) {
        try {
          await call();
          wrong.push(`${what}() resolved`);
        } catch (error) {
          const { name, code } = error as { name?: unknown; code?: unknown };
          if (name !== closed.name || code !== closed.code) wrong.push(`${what}() threw ${String(name)} (${String(code)})`);
        }
      }
      expect(wrong, 'calls after close() that did not reject with DriverClosedError').toEqual([]);
    });
  });

  describe.skipIf(caps.inline)('bulk push', () => {
    it('push() of 1,000 envelopes stores them all, and each is delivered exactly once', { timeout: 120_000 }, async () => {
      const queue = f.queue();
      const envelopes = Array.from({ length: 1_000 }, (_, i) => testEnvelope(queue, { payload: { i } }));
      const result = await f.driver().push(envelopes);
      expect(result.pushed).toHaveLength(1_000);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1_000 });
      const seen = new Set<string>();
      for (let i = 0; i < 1_100; i += 1) {
        const reservation = await f.driver().reserve([queue], { leaseMs: 60_000, waitMs: 0 });
        if (reservation === undefined) break;
        expect(seen.has(reservation.id)).toBe(false);
        seen.add(reservation.id);
        await f.driver().ack(reservation);
      }
      expect(seen.size).toBe(1_000);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, reserved: 0 });
    });
  });

  describe.skipIf(caps.inline || !caps.uniqueKeys)('unique keys (capability: uniqueKeys)', () => {
    it('push() skips a job whose unique key is held by a queued job', async () => {
      const queue = f.queue();
      const key = `contract-unique-${queue}`;
      const first = testEnvelope(queue, { uniqueKey: key });
      const second = testEnvelope(queue, { uniqueKey: key });
      expect(await f.driver().push([first])).toEqual({ pushed: [first.id], skipped: [] });
      expect(await f.driver().push([second])).toEqual({ pushed: [], skipped: [second.id] });
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1 });
    });

    it('a unique key stays held while its job is reserved and is freed once the job is acknowledged', async () => {
      const queue = f.queue();
      const key = `contract-unique-${queue}`;
      await f.driver().push([testEnvelope(queue, { uniqueKey: key })]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      const whileReserved = testEnvelope(queue, { uniqueKey: key });
      expect((await f.driver().push([whileReserved])).skipped).toEqual([whileReserved.id]);
      await f.driver().ack(reservation);
      const afterAck = testEnvelope(queue, { uniqueKey: key });
      expect((await f.driver().push([afterAck])).pushed).toEqual([afterAck.id]);
    });

    it('a unique key is held within its queue: the same key in another queue is not skipped', async () => {
      const [queue, other] = [f.queue(), f.queue()];
      const key = `contract-unique-${queue}`;
      const first = testEnvelope(queue, { uniqueKey: key });
      const elsewhere = testEnvelope(other, { uniqueKey: key });
      expect((await f.driver().push([first])).pushed).toEqual([first.id]);
      expect(await f.driver().push([elsewhere])).toEqual({ pushed: [elsewhere.id], skipped: [] });
      expect(await f.driver().stats(other)).toMatchObject({ ready: 1 });
    });

    it('jobs without a unique key, or with different keys, are never skipped', async () => {
      const queue = f.queue();
      const envelopes = [
        testEnvelope(queue),
        testEnvelope(queue),
        testEnvelope(queue, { uniqueKey: `a-${queue}` }),
        testEnvelope(queue, { uniqueKey: `b-${queue}` }),
      ];
      expect((await f.driver().push(envelopes)).pushed).toHaveLength(4);
    });
  });

  describe.skipIf(caps.inline || caps.lease === 'none')('concurrent reservers (capability: lease)', () => {
    it('10 concurrent reservers over 200 jobs never hold the same job at once and get every job exactly once', {
      timeout: 120_000,
    }, async () => {
      const queue = f.queue();
      const envelopes = Array.from({ length: 200 }, (_, i) => testEnvelope(queue, { payload: { i } }));
      await f.driver().push(envelopes);
      const drivers = [f.driver(), await f.openDriver()];
      const held = new Set<string>();
      const completed: string[] = [];
      const overlaps: string[] = [];
      const deadline = Date.now() + 60_000;
      const loop = async (worker: number): Promise<void> => {
        const driver = drivers[worker % drivers.length]!;
        let idle = 0;
        while (completed.length < envelopes.length && Date.now() < deadline && idle < 40) {
          const reservation = await driver.reserve([queue], { leaseMs: 30_000, waitMs: 0 });
          if (reservation === undefined) {
            idle += 1;
            await sleep(5);
            continue;
          }
          idle = 0;
          if (held.has(reservation.id)) overlaps.push(reservation.id);
          held.add(reservation.id);
          await sleep(Math.random() * 3);
          held.delete(reservation.id);
          completed.push(reservation.id);
          await driver.ack(reservation);
        }
      };
      await Promise.all(Array.from({ length: 10 }, (_, i) => loop(i)));
      expect(overlaps).toEqual([]);
      expect(completed).toHaveLength(200);
      expect(new Set(completed).size).toBe(200);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, reserved: 0 });
    });
  });

  describe('bad input', () => {
    const invalidArgument = { name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' };

    it('push() of an envelope with an invalid queue name throws InvalidArgumentError and stores nothing', async () => {
      const queue = f.queue();
      const good = testEnvelope(queue);
      const bad = testEnvelope('not a valid queue!');
      await expect(Promise.resolve().then(() => f.driver().push([good, bad]))).rejects.toMatchObject(invalidArgument);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0 });
    });

    it('an invalid queue name of 10,000 characters is refused with an error that quotes a readable part of it', async () => {
      const hostile = `${'x'.repeat(9_999)}!`;
      const error = await Promise.resolve()
        .then(() => f.driver().push([testEnvelope(hostile)]))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject(invalidArgument);
      expect((error as Error).message.length).toBeLessThan(300);
      expect((error as Error).message).toContain('(10000 characters)');
    });

    it.skipIf(caps.inline)('reserve() with an invalid queue name throws InvalidArgumentError', async () => {
      await expect(
        Promise.resolve().then(() => f.driver().reserve(['bad queue name'], { leaseMs: 1_000, waitMs: 0 })),
      ).rejects.toMatchObject(invalidArgument);
    });

    it.skipIf(caps.inline)('reserve() with leaseMs <= 0 throws InvalidArgumentError', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      for (const leaseMs of [0, -1_000]) {
        await expect(Promise.resolve().then(() => f.driver().reserve([queue], { leaseMs, waitMs: 0 }))).rejects.toMatchObject(
          invalidArgument,
        );
      }
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1, reserved: 0 });
    });

    it.skipIf(caps.maxMessageBytes === undefined)(
      'push() of an envelope above maxMessageBytes throws PayloadTooLargeError and stores nothing',
      async () => {
        const queue = f.queue();
        const big = testEnvelope(queue, { payload: { blob: 'x'.repeat((caps.maxMessageBytes ?? 0) + 1) } });
        const small = testEnvelope(queue);
        await expect(Promise.resolve().then(() => f.driver().push([small, big]))).rejects.toMatchObject({
          name: 'PayloadTooLargeError',
          code: 'PAYLOAD_TOO_LARGE',
        });
        expect(await f.driver().stats(queue)).toMatchObject({ ready: 0 });
      },
    );
  });

  describe.skipIf(caps.inline || f.options.pushRaw === undefined)('poison bodies (option: pushRaw)', () => {
    const raw = '{"v":1,"id":"truncated';

    it('reserve() returns an undecodable body as a poison reservation with the raw text and the decode error', async () => {
      const queue = f.queue();
      await f.options.pushRaw?.(f.driver(), queue, raw);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      expect(reservation.envelope).toBeUndefined();
      expect(reservation.poison?.raw).toBe(raw);
      expect(reservation.poison?.error).toBeInstanceOf(Error);
      expect(reservation).toMatchObject({ attempt: 1, lostDeliveries: 0 });
      expect(typeof reservation.id).toBe('string');
    });

    it('deadLetter() keeps a poison body raw; retry() of it throws and retryAll() passes it over', async () => {
      const queue = f.queue();
      await f.options.pushRaw?.(f.driver(), queue, raw);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      await f
        .driver()
        .deadLetter(reservation, testFailure({ reason: 'poison', error: { name: 'PayloadDecodeError', message: 'bad body' } }));
      const entry = await f.driver().deadLetters.get(reservation.id);
      expect(entry).toMatchObject({ id: reservation.id, queue, reason: 'poison', raw, name: undefined, envelope: undefined });
      await expect(Promise.resolve().then(() => f.driver().deadLetters.retry(reservation.id))).rejects.toBeInstanceOf(Error);
      expect(await f.driver().deadLetters.retryAll({ queue })).toBe(0);
      expect(await f.driver().deadLetters.count({ queue })).toBe(1);
    });
  });
}
