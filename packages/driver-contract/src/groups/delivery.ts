import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { reserveEventually, reserveOrFail, sleep, testEnvelope } from '../helpers.js';

/** push / reserve / ack, ordering, delays and waiting reserves. */
export function describeDelivery(f: ContractFixture): void {
  const caps = f.capabilities;

  describe.skipIf(caps.inline)('push, reserve and ack', () => {
    it('push() resolves the ids it stored', async () => {
      const queue = f.queue();
      const a = testEnvelope(queue);
      const b = testEnvelope(queue);
      const result = await f.driver().push([a, b]);
      expect([...result.pushed].sort()).toEqual([a.id, b.id].sort());
      expect(result.skipped).toEqual([]);
    });

    it('reserve() returns a pushed job with its envelope, a token, attempt 1 and no lost deliveries', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue, {
        payload: { user: { id: 'u-1', tags: ['a', 'b'] }, count: 3, ok: true, none: null },
        meta: { source: 'contract' },
        maxAttempts: 4,
      });
      await f.driver().push([envelope]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      expect(reservation.id).toBe(envelope.id);
      expect(reservation.queue).toBe(queue);
      expect(reservation).toMatchObject({ attempt: 1, lostDeliveries: 0 });
      expect(typeof reservation.token).toBe('string');
      expect(reservation.token.length).toBeGreaterThan(0);
      expect(reservation.leaseExpiresAt).toBeGreaterThan(envelope.createdAt);
      expect(reservation.poison).toBeUndefined();
      expect(reservation.envelope).toMatchObject({
        id: envelope.id,
        name: envelope.name,
        queue,
        payload: envelope.payload,
        priority: envelope.priority,
        maxAttempts: 4,
        meta: { source: 'contract' },
      });
    });

    it('reserve() resolves undefined at once when every queue is empty', async () => {
      expect(await f.driver().reserve([f.queue(), f.queue()], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
    });

    it('reserve() hides a reserved job from the next reserve while its lease holds', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      await reserveOrFail(f.driver(), [queue]);
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
    });

    it('ack() deletes the job so that it is never delivered again', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const reservation = await reserveOrFail(f.driver(), [queue], 500);
      await f.driver().ack(reservation);
      // Past the lease, an unacknowledged job would be back; an acknowledged one is gone for good.
      await sleep(700);
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
    });

    it('ack() of an already acknowledged delivery is a no-op', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      await f.driver().ack(reservation);
      await expect(f.driver().ack(reservation)).resolves.toBeUndefined();
    });

    it('reserve() returns jobs of one priority in push order (FIFO), across separate and bulk pushes', async () => {
      const queue = f.queue();
      const single = Array.from({ length: 4 }, (_, i) => testEnvelope(queue, { payload: { i } }));
      for (const envelope of single) await f.driver().push([envelope]);
      const bulk = Array.from({ length: 4 }, (_, i) => testEnvelope(queue, { payload: { i: i + 4 } }));
      await f.driver().push(bulk);
      const order: string[] = [];
      for (let i = 0; i < 8; i += 1) order.push((await reserveOrFail(f.driver(), [queue])).id);
      expect(order).toEqual([...single, ...bulk].map((e) => e.id));
    });

    it('reserve() takes from the first non-empty queue in the order given', async () => {
      const [first, second, third] = [f.queue(), f.queue(), f.queue()];
      const inSecond = testEnvelope(second);
      const inThird = testEnvelope(third);
      await f.driver().push([inThird]);
      await f.driver().push([inSecond]);
      const queues = [first, second, third];
      const a = await reserveOrFail(f.driver(), queues);
      const b = await reserveOrFail(f.driver(), queues);
      expect([a.id, a.queue]).toEqual([inSecond.id, second]);
      expect([b.id, b.queue]).toEqual([inThird.id, third]);
    });
  });

  describe.skipIf(caps.inline || !caps.priority)('priority (capability: priority)', () => {
    it('reserve() returns lower priority numbers first, FIFO within one priority', async () => {
      const queue = f.queue();
      const byPriority = [30, 10, 20, 10, 0, 1_000_000].map((priority, i) => testEnvelope(queue, { priority, payload: { i } }));
      await f.driver().push(byPriority);
      const order: number[] = [];
      for (let i = 0; i < byPriority.length; i += 1) {
        const reservation = await reserveOrFail(f.driver(), [queue]);
        order.push(byPriority.findIndex((e) => e.id === reservation.id));
      }
      expect(order).toEqual([4, 1, 3, 2, 0, 5]);
    });

    it('a job pushed later with a lower priority number overtakes waiting jobs', async () => {
      const queue = f.queue();
      const normal = testEnvelope(queue, { priority: 20 });
      const urgent = testEnvelope(queue, { priority: 10 });
      await f.driver().push([normal]);
      await f.driver().push([urgent]);
      expect((await reserveOrFail(f.driver(), [queue])).id).toBe(urgent.id);
      expect((await reserveOrFail(f.driver(), [queue])).id).toBe(normal.id);
    });
  });

  describe.skipIf(caps.inline || caps.delay === 'none')('delays (capability: delay)', () => {
    it('reserve() does not return a job before its availableAt, and returns it once due', async () => {
      const queue = f.queue();
      const availableAt = Date.now() + 300;
      const envelope = testEnvelope(queue, { availableAt });
      await f.driver().push([envelope]);
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 1 });
      const reservation = await reserveEventually(f.driver(), [queue]);
      // A little slack for a backend clock that is not this process's clock.
      expect(Date.now()).toBeGreaterThanOrEqual(availableAt - 50);
      expect(reservation.id).toBe(envelope.id);
      expect(reservation).toMatchObject({ attempt: 1, lostDeliveries: 0 });
    });

    it('a delayed job does not hold up ready jobs queued after it', async () => {
      const queue = f.queue();
      const later = testEnvelope(queue, { availableAt: Date.now() + 60_000, priority: 0 });
      const now = testEnvelope(queue, { priority: 30 });
      await f.driver().push([later]);
      await f.driver().push([now]);
      expect((await reserveOrFail(f.driver(), [queue])).id).toBe(now.id);
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
    });

    it('a waiting reserve() returns a delayed job once it comes due', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue, { availableAt: Date.now() + 250 });
      await f.driver().push([envelope]);
      const reservation = await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 5_000 });
      expect(reservation?.id).toBe(envelope.id);
    });
  });

  describe.skipIf(caps.inline)('waiting reserve', () => {
    it('reserve() with waitMs returns a job pushed while it waits', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      const waiting = f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 5_000 });
      await sleep(100);
      const producer = await f.openDriver();
      await producer.push([envelope]);
      const reservation = await waiting;
      expect(reservation?.id).toBe(envelope.id);
    });

    it('reserve() resolves undefined after waitMs when nothing arrives', async () => {
      const queue = f.queue();
      const started = Date.now();
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 300 })).toBeUndefined();
      // It waited rather than returning at once (slack for timer granularity).
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('aborting the signal ends a waiting reserve() with undefined', async () => {
      const queue = f.queue();
      const controller = new AbortController();
      const waiting = f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 20_000, signal: controller.signal });
      await sleep(100);
      controller.abort();
      const outcome = await Promise.race([waiting, sleep(5_000).then(() => 'still waiting' as const)]);
      expect(outcome).toBeUndefined();
    });
  });
}
