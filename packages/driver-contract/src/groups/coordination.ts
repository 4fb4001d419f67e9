import { randomUUID } from 'node:crypto';
import { LeaseLostError } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { reserveEventually, reserveOrFail, sleep, testEnvelope } from '../helpers.js';

/** The optional members job middleware rely on, as a probe driver showed them. */
export interface OptionalMembers {
  /** `postpone()` is present. */
  readonly postpone: boolean;
  /** `createCoordinationStore()` is present. */
  readonly coordination: boolean;
}

/** postpone() and the coordination store: what rate-limited, overlap-locked and circuit-broken jobs need. */
export function describeCoordination(f: ContractFixture, members: OptionalMembers): void {
  const noLease = f.capabilities.inline || f.capabilities.lease === 'none';

  describe.skipIf(noLease || !members.postpone)('postpone (member: postpone)', () => {
    it('postpone() hides the job for the delay, then delivers it with neither count changed', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      await f.driver().push([envelope]);
      const first = await reserveOrFail(f.driver(), [queue]);
      const postponedAt = Date.now();
      await f.driver().postpone?.(first, { delayMs: 300 });
      expect(await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ delayed: 1, ready: 0, reserved: 0 });
      const second = await reserveEventually(f.driver(), [queue]);
      expect(Date.now() - postponedAt).toBeGreaterThanOrEqual(250);
      expect(second.id).toBe(envelope.id);
      expect(second).toMatchObject({ attempt: 1, lostDeliveries: 0 });
    });

    it('postpone() with a lease that was lost changes nothing and throws LeaseLostError', async () => {
      const queue = f.queue();
      await f.driver().push([testEnvelope(queue)]);
      const first = await reserveOrFail(f.driver(), [queue], 200);
      const second = await reserveEventually(f.driver(), [queue]);
      await expect(f.driver().postpone?.(first, { delayMs: 10_000 })).rejects.toBeInstanceOf(LeaseLostError);
      await f.driver().ack(second);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
    });
  });

  describe.skipIf(!members.coordination)('coordination store (member: createCoordinationStore)', () => {
    it('increment() counts in a fixed window shared by two drivers, then starts again', async () => {
      const key = `contract:${randomUUID()}`;
      const a = f.driver().createCoordinationStore?.();
      const b = (await f.openDriver()).createCoordinationStore?.();
      if (a === undefined || b === undefined) throw new Error('createCoordinationStore() returned nothing');
      expect(await a.increment(key, 400)).toBe(1);
      expect(await b.increment(key, 400)).toBe(2);
      expect(await a.increment(key, 400)).toBe(3);
      await sleep(500);
      expect(await b.increment(key, 400)).toBe(1);
      await a.delete(key);
    });

    it('acquire() leases a key to one owner across drivers, renews it for that owner, and frees it on release or expiry', async () => {
      const key = `contract:${randomUUID()}`;
      const a = f.driver().createCoordinationStore?.();
      const b = (await f.openDriver()).createCoordinationStore?.();
      if (a === undefined || b === undefined) throw new Error('createCoordinationStore() returned nothing');
      expect(await a.remainingMs(key)).toBe(0);
      expect(await a.acquire(key, 'one', 300)).toBe(true);
      expect(await b.acquire(key, 'two', 300)).toBe(false);
      expect(await a.acquire(key, 'one', 5_000)).toBe(true);
      const remaining = await b.remainingMs(key);
      expect(remaining).toBeGreaterThan(300);
      expect(remaining).toBeLessThanOrEqual(5_000);
      expect(await b.release(key, 'two')).toBe(false);
      expect(await b.release(key, 'one')).toBe(true);
      expect(await b.acquire(key, 'two', 200)).toBe(true);
      await sleep(300);
      expect(await a.remainingMs(key)).toBe(0);
      expect(await a.acquire(key, 'one', 200)).toBe(true);
      expect(await a.delete(key)).toBe(true);
      expect(await a.delete(key)).toBe(false);
    });
  });
}
