import type { QueueDriver, Reservation } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { reserveEventually, reserveOrFail, sleep, testEnvelope, testFailure } from '../helpers.js';

/** Leases, redelivery, release, extend and fencing. */
export function describeLeases(f: ContractFixture): void {
  const caps = f.capabilities;
  const noLease = caps.inline || caps.lease === 'none';

  describe.skipIf(noLease)('leases and redelivery (capability: lease)', () => {
    it('reserve() hides a job until its lease expires, then delivers it again as a lost delivery (attempt 1, lostDeliveries 1)', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      await f.driver().push([envelope]);
      const first = await reserveOrFail(f.driver(), [queue], 300);
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      const second = await reserveEventually(f.driver(), [queue]);
      expect(second.id).toBe(envelope.id);
      expect(second).toMatchObject({ attempt: 1, lostDeliveries: 1 });
      expect(second.token).not.toBe(first.token);
      expect(second.envelope?.payload).toEqual(envelope.payload);
    });

    it('release() makes the job available again at once and counts the failed run: the next delivery is attempt 2', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const first = await reserveOrFail(f.driver(), [queue]);
      await f.driver().release(first, { delayMs: 0 });
      const second = await reserveOrFail(f.driver(), [queue]);
      expect(second.id).toBe(first.id);
      expect(second).toMatchObject({ attempt: 2, lostDeliveries: 0 });
    });

    it.skipIf(caps.delay === 'none')('release() with delayMs hides the job until the delay has passed', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const first = await reserveOrFail(f.driver(), [queue]);
      const releasedAt = Date.now();
      await f.driver().release(first, { delayMs: 300 });
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ delayed: 1, ready: 0, reserved: 0 });
      const second = await reserveEventually(f.driver(), [queue]);
      expect(Date.now() - releasedAt).toBeGreaterThanOrEqual(250);
      expect(second.id).toBe(first.id);
      expect(second).toMatchObject({ attempt: 2, lostDeliveries: 0 });
    });

    it.skipIf(!caps.rewriteOnRelease)(
      'release() stores the envelope it is given for the next delivery (capability: rewriteOnRelease)',
      async () => {
        const queue = f.queue();
        const envelope = testEnvelope(queue);
        await f.driver().push([envelope]);
        const first = await reserveOrFail(f.driver(), [queue]);
        const failedAt = Date.now();
        const updated = {
          ...envelope,
          failure: { firstFailedAt: failedAt, lastFailedAt: failedAt, lastError: { name: 'Error', message: 'first try failed' } },
          meta: { note: 'rewritten' },
        };
        await f.driver().release(first, { delayMs: 0, envelope: updated });
        const second = await reserveOrFail(f.driver(), [queue]);
        expect(second.envelope?.failure).toEqual(updated.failure);
        expect(second.envelope?.meta).toEqual({ note: 'rewritten' });
        expect(second.envelope?.payload).toEqual(envelope.payload);
      },
    );

    it.skipIf(!caps.extend)('extend() keeps a job hidden past its first lease (capability: extend)', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const reservation = await reserveOrFail(f.driver(), [queue], 300);
      const expiresAt = await f.driver().extend(reservation, 30_000);
      expect(expiresAt).toBeGreaterThan(reservation.leaseExpiresAt);
      await sleep(600);
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      await f.driver().ack(reservation);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, reserved: 0, delayed: 0 });
    });

    it('keeps two counts apart: a lease that runs out counts a lost delivery, release() counts an attempt', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const counts: [number, number][] = [];
      let reservation = await reserveOrFail(f.driver(), [queue], 200);
      counts.push([reservation.attempt, reservation.lostDeliveries]);
      reservation = await reserveEventually(f.driver(), [queue], 30_000);
      counts.push([reservation.attempt, reservation.lostDeliveries]);
      await f.driver().release(reservation, { delayMs: 0 });
      reservation = await reserveOrFail(f.driver(), [queue], 200);
      counts.push([reservation.attempt, reservation.lostDeliveries]);
      reservation = await reserveEventually(f.driver(), [queue], 30_000);
      counts.push([reservation.attempt, reservation.lostDeliveries]);
      expect(counts).toEqual([
        [1, 0],
        [1, 1],
        [2, 1],
        [2, 2],
      ]);
    });

    it('giveBack() hands a job back unrun: first in its band again, neither count changed', async () => {
      const queue = f.queue();
      const first = testEnvelope(queue, { payload: { n: 1 } });
      const second = testEnvelope(queue, { payload: { n: 2 } });
      await f.driver().push([first]);
      await f.driver().push([second]);
      const taken = await reserveOrFail(f.driver(), [queue]);
      expect(taken.id).toBe(first.id);
      expect(await f.driver().giveBack([taken])).toBe(1);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 2, reserved: 0 });
      const again = await reserveOrFail(f.driver(), [queue]);
      expect(again.id).toBe(first.id);
      expect(again).toMatchObject({ attempt: 1, lostDeliveries: 0 });
      expect(again.token).not.toBe(taken.token);
      await expect(f.driver().ack(taken)).rejects.toMatchObject({ code: 'LEASE_LOST' });
      await f.driver().ack(again);
    });

    it('giveBack() after a failed run keeps the attempt count, and skips a reservation whose lease was lost', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const failed = await reserveOrFail(f.driver(), [queue]);
      await f.driver().release(failed, { delayMs: 0 });
      const stale = await reserveOrFail(f.driver(), [queue], 200);
      const holder = await reserveEventually(f.driver(), [queue], 30_000);
      expect(holder).toMatchObject({ attempt: 2, lostDeliveries: 1 });
      expect(await f.driver().giveBack([stale])).toBe(0);
      expect(await f.driver().stats(queue)).toMatchObject({ reserved: 1, ready: 0 });
      expect(await f.driver().giveBack([holder])).toBe(1);
      const again = await reserveOrFail(f.driver(), [queue]);
      expect(again).toMatchObject({ attempt: 2, lostDeliveries: 1 });
    });
  });

  describe.skipIf(noLease)('fencing (capability: lease)', () => {
    /** Pushes a job, lets a short first lease run out and has a second delivery take it. */
    async function lostAndRetaken(): Promise<{ queue: string; stale: Reservation; holder: Reservation }> {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const stale = await reserveOrFail(f.driver(), [queue], 200);
      const holder = await reserveEventually(f.driver(), [queue], 30_000);
      expect(holder.id).toBe(stale.id);
      expect(holder.token).not.toBe(stale.token);
      return { queue, stale, holder };
    }

    /** The job is still leased by `holder`, which can settle it. */
    async function expectHeldBy(driver: QueueDriver, queue: string, holder: Reservation): Promise<void> {
      expect(await driver.reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      expect(await driver.stats(queue)).toMatchObject({ reserved: 1, ready: 0, dead: 0 });
      await driver.ack(holder);
      expect(await driver.stats(queue)).toMatchObject({ reserved: 0, ready: 0, delayed: 0, dead: 0 });
    }

    const leaseLost = { name: 'LeaseLostError', code: 'LEASE_LOST' };

    it('ack() with a lost lease throws LeaseLostError and leaves the job with its new holder', async () => {
      const { queue, stale, holder } = await lostAndRetaken();
      await expect(f.driver().ack(stale)).rejects.toMatchObject(leaseLost);
      await expectHeldBy(f.driver(), queue, holder);
    });

    it('release() with a lost lease throws LeaseLostError and leaves the job with its new holder', async () => {
      const { queue, stale, holder } = await lostAndRetaken();
      await expect(f.driver().release(stale, { delayMs: 0 })).rejects.toMatchObject(leaseLost);
      await expectHeldBy(f.driver(), queue, holder);
    });

    it.skipIf(!caps.extend)('extend() with a lost lease throws LeaseLostError and leaves the job with its new holder', async () => {
      const { queue, stale, holder } = await lostAndRetaken();
      await expect(f.driver().extend(stale, 60_000)).rejects.toMatchObject(leaseLost);
      await expectHeldBy(f.driver(), queue, holder);
    });

    it('deadLetter() with a lost lease throws LeaseLostError and leaves the job with its new holder', async () => {
      const { queue, stale, holder } = await lostAndRetaken();
      await expect(f.driver().deadLetter(stale, testFailure())).rejects.toMatchObject(leaseLost);
      expect(await f.driver().deadLetters.get(stale.id)).toBeUndefined();
      await expectHeldBy(f.driver(), queue, holder);
    });

    it('a settle from another driver instance is fenced the same way', async () => {
      const { queue, stale, holder } = await lostAndRetaken();
      const other = await f.openDriver();
      await expect(other.ack(stale)).rejects.toMatchObject(leaseLost);
      expect(await other.stats(queue)).toMatchObject({ reserved: 1, ready: 0 });
      // The holder settles through its own driver: on beanstalkd only the reserving connection can.
      await expectHeldBy(f.driver(), queue, holder);
    });

    it('ack() with a lost lease after the new holder acknowledged the job is a no-op', async () => {
      const { queue, stale, holder } = await lostAndRetaken();
      await f.driver().ack(holder);
      await expect(f.driver().ack(stale)).resolves.toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, reserved: 0, delayed: 0, dead: 0 });
    });
  });
}
