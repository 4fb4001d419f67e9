import { createEnvelope } from '@queuekit/core';
import { sleep, waitUntil } from '@queuekit/driver-contract';
import { describe, expect, it } from 'vitest';
import { useTestBroker } from './broker.js';

const LOCK_MS = 1_000;

// How leaseMs maps onto a queue whose lock duration is fixed (here 1 s): a longer lease is held by
// renewals until it ends, a shorter one lasts the lock.
describe('servicebus driver: leases against the queue lock duration', () => {
  const { open } = useTestBroker(LOCK_MS);

  it('a lease longer than the lock keeps the job hidden past several lock durations, then frees it within one lock once it ends', async () => {
    const [holder, other] = [open(), open()];
    const envelope = createEnvelope({ name: 'job', queue: 'long-lease', payload: {} });
    await holder.push([envelope]);
    const reservedAt = Date.now();
    const reservation = await holder.reserve(['long-lease'], { leaseMs: 3_500, waitMs: 2_000 });
    expect(reservation?.leaseExpiresAt).toBeGreaterThanOrEqual(reservedAt + 3_500);
    for (const at of [1_500, 2_500, 3_200]) {
      await sleep(reservedAt + at - Date.now());
      expect(await other.reserve(['long-lease'], { leaseMs: 30_000, waitMs: 0 }), `taken ${at} ms into a 3.5 s lease`).toBeUndefined();
    }
    const next = await waitUntil(() => other.reserve(['long-lease'], { leaseMs: 30_000, waitMs: 0 }), { timeoutMs: 5_000 });
    const freedAfterMs = Date.now() - reservedAt;
    expect(freedAfterMs).toBeGreaterThanOrEqual(3_400);
    expect(freedAfterMs).toBeLessThan(3_500 + LOCK_MS + 1_000);
    expect(next).toMatchObject({ id: envelope.id, attempt: 1, lostDeliveries: 1 });
    await expect(holder.ack(reservation!)).rejects.toMatchObject({ code: 'LEASE_LOST' });
  });

  it('extend() moves the end of a long lease: renewals go on until the new end', async () => {
    const [holder, other] = [open(), open()];
    await holder.push([createEnvelope({ name: 'job', queue: 'extended', payload: {} })]);
    const reservation = (await holder.reserve(['extended'], { leaseMs: 1_500, waitMs: 2_000 }))!;
    await sleep(1_000);
    const until = await holder.extend(reservation, 2_000);
    expect(until).toBeGreaterThanOrEqual(Date.now() + 1_900);
    // 2.9 s in: past the first lease and the last lock it could have held (2.5 s), before the new end (3 s).
    await sleep(1_900);
    expect(await other.reserve(['extended'], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
    await holder.ack(reservation);
    expect(await other.stats('extended')).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('a lease shorter than the lock lasts the lock, and leaseExpiresAt says so', async () => {
    const [holder, other] = [open(), open()];
    await holder.push([createEnvelope({ name: 'job', queue: 'short-lease', payload: {} })]);
    const reservedAt = Date.now();
    const reservation = (await holder.reserve(['short-lease'], { leaseMs: 100, waitMs: 2_000 }))!;
    expect(reservation.leaseExpiresAt).toBeGreaterThanOrEqual(reservedAt + LOCK_MS - 100);
    await sleep(500);
    expect(await other.reserve(['short-lease'], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
    const next = await waitUntil(() => other.reserve(['short-lease'], { leaseMs: 30_000, waitMs: 0 }), { timeoutMs: 5_000 });
    expect(Date.now() - reservedAt).toBeGreaterThanOrEqual(LOCK_MS - 100);
    expect(next.lostDeliveries).toBe(1);
  });
});
