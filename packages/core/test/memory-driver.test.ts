import { describe, expect, it } from 'vitest';
import { createEnvelope } from '../src/envelope/create-envelope.js';
import { createMemoryDriver, MemoryStore } from '../src/testing/index.js';

// Behaviour of the memory driver beyond the shared contract (which runs in
// packages/driver-contract/test/memory-driver.contract.test.ts).

function envelope(queue: string, init: Partial<Parameters<typeof createEnvelope>[0]> = {}) {
  return createEnvelope({ name: 'memory-test', queue, payload: { ok: true }, ...init });
}

/** A clock the test moves by hand, a second ahead so that envelopes made just after it are due. */
function manualClock(start = Date.now() + 1_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('memory driver', () => {
  it('declares what it does: leases, delays, priority, unique keys, blocking reserve, rewrite on release', () => {
    const driver = createMemoryDriver();
    expect(driver.name).toBe('memory');
    expect(driver.capabilities).toMatchObject({
      delay: 'emulated',
      priority: true,
      lease: 'emulated',
      extend: true,
      blockingReserve: true,
      deadLetter: 'store',
      bulkPush: true,
      transactionalPush: false,
      uniqueKeys: true,
      inline: false,
      rewriteOnRelease: true,
    });
    expect(driver.capabilities.maxMessageBytes).toBeUndefined();
    expect(createMemoryDriver({ maxMessageBytes: 10 }).capabilities.maxMessageBytes).toBe(10);
  });

  it('keeps state per instance unless drivers share a store', async () => {
    const lonely = createMemoryDriver();
    const store = new MemoryStore();
    const a = createMemoryDriver({ store });
    const b = createMemoryDriver({ store });
    await a.push([envelope('q')]);
    expect(await lonely.reserve(['q'], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
    const reservation = await b.reserve(['q'], { leaseMs: 1_000, waitMs: 0 });
    expect(reservation).toBeDefined();
    // b holds it now, so a sees nothing.
    expect(await a.reserve(['q'], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
    await a.ack(reservation!);
    expect(await b.stats('q')).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('uses the clock it is given for due times', async () => {
    const clock = manualClock();
    const driver = createMemoryDriver({ now: clock.now });
    await driver.push([envelope('q', { availableAt: clock.now() + 60_000 })]);
    expect(await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
    expect(await driver.stats('q')).toMatchObject({ delayed: 1, ready: 0 });
    clock.advance(60_000);
    expect(await driver.stats('q')).toMatchObject({ delayed: 0, ready: 1, oldestReadyAt: clock.now() });
    expect(await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 })).toBeDefined();
  });

  it('uses the clock it is given for lease expiry, and an expired lease counts as reserved until reclaimed', async () => {
    const clock = manualClock();
    const driver = createMemoryDriver({ now: clock.now });
    await driver.push([envelope('q')]);
    const first = await driver.reserve(['q'], { leaseMs: 5_000, waitMs: 0 });
    expect(first?.leaseExpiresAt).toBe(clock.now() + 5_000);
    clock.advance(4_999);
    expect(await driver.reserve(['q'], { leaseMs: 5_000, waitMs: 0 })).toBeUndefined();
    clock.advance(1);
    expect(await driver.stats('q')).toMatchObject({ reserved: 1, ready: 0 });
    const second = await driver.reserve(['q'], { leaseMs: 5_000, waitMs: 0 });
    expect(second).toMatchObject({ attempt: 1, lostDeliveries: 1 });
    await expect(driver.ack(first!)).rejects.toMatchObject({ code: 'LEASE_LOST' });
  });

  it('lets the holder of an expired lease settle while nobody has reclaimed the job', async () => {
    const clock = manualClock();
    const driver = createMemoryDriver({ now: clock.now });
    await driver.push([envelope('q')]);
    const reservation = await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 });
    clock.advance(10_000);
    expect(await driver.extend(reservation!, 1_000)).toBe(clock.now() + 1_000);
    await driver.ack(reservation!);
    expect(await driver.stats('q')).toMatchObject({ reserved: 0, ready: 0 });
  });

  it('a waiting reserve() takes a job whose lease runs out while it waits', async () => {
    const driver = createMemoryDriver();
    await driver.push([envelope('q')]);
    await driver.reserve(['q'], { leaseMs: 150, waitMs: 0 });
    const again = await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 5_000 });
    expect(again).toMatchObject({ attempt: 1, lostDeliveries: 1 });
  });

  it('a waiting reserve() wakes when another driver on the store releases a job', async () => {
    const store = new MemoryStore();
    const worker = createMemoryDriver({ store });
    const other = createMemoryDriver({ store });
    await other.push([envelope('q')]);
    const held = await other.reserve(['q'], { leaseMs: 60_000, waitMs: 0 });
    const waiting = worker.reserve(['q'], { leaseMs: 1_000, waitMs: 5_000 });
    await other.release(held!, { delayMs: 0 });
    expect((await waiting)?.id).toBe(held?.id);
  });

  it('close() ends a waiting reserve() with undefined and refuses later calls', async () => {
    const driver = createMemoryDriver();
    const waiting = driver.reserve(['q'], { leaseMs: 1_000, waitMs: 10_000 });
    await driver.close();
    expect(await waiting).toBeUndefined();
    await expect(driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 })).rejects.toMatchObject({ code: 'DRIVER_CLOSED' });
  });

  it('a reserve() whose signal is already aborted takes nothing', async () => {
    const driver = createMemoryDriver();
    await driver.push([envelope('q')]);
    expect(await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 1_000, signal: AbortSignal.abort() })).toBeUndefined();
    expect(await driver.stats('q')).toMatchObject({ ready: 1, reserved: 0 });
  });

  it('pushRaw() stores a body as it is, which comes back as poison', async () => {
    const driver = createMemoryDriver();
    const id = await driver.pushRaw('q', 'not json', { id: 'raw-1' });
    expect(id).toBe('raw-1');
    const reservation = await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 });
    expect(reservation).toMatchObject({ id: 'raw-1', queue: 'q', poison: { raw: 'not json' } });
    expect(reservation?.poison?.error).toMatchObject({ code: 'PAYLOAD_DECODE_FAILED' });
    await expect(driver.pushRaw('bad queue', 'x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('push() refuses a transaction handle and an envelope above maxMessageBytes, storing nothing', async () => {
    const driver = createMemoryDriver({ maxMessageBytes: 2_048 });
    const first = envelope('q');
    await expect(driver.push([first], { transaction: {} })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: /^memory: / });
    await expect(driver.push([first, envelope('q', { payload: 'x'.repeat(3_000) })])).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await driver.stats('q')).toMatchObject({ ready: 0 });
    expect(() => createMemoryDriver({ maxMessageBytes: 0 })).toThrow(/maxMessageBytes/);
  });

  it('push() skips a duplicate id, within one push and across pushes, as the backends do', async () => {
    const driver = createMemoryDriver();
    const first = envelope('q');
    expect(await driver.push([first, first])).toEqual({ pushed: [first.id], skipped: [first.id] });
    expect(await driver.push([first])).toEqual({ pushed: [], skipped: [first.id] });
    expect(await driver.stats('q')).toMatchObject({ ready: 1 });
  });

  it('skips a repeated unique key within one push to one queue, and holds keys per queue', async () => {
    const driver = createMemoryDriver();
    const a = envelope('q', { uniqueKey: 'k' });
    const b = envelope('q', { uniqueKey: 'k' });
    const elsewhere = envelope('other', { uniqueKey: 'k' });
    expect(await driver.push([a, b, elsewhere])).toEqual({ pushed: [a.id, elsewhere.id], skipped: [b.id] });
  });

  it('frees a unique key when its job is dead-lettered or purged', async () => {
    const driver = createMemoryDriver();
    await driver.push([envelope('q', { uniqueKey: 'k' })]);
    const reservation = await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 });
    const now = Date.now();
    await driver.deadLetter(reservation!, {
      reason: 'failed',
      error: { name: 'Error', message: 'x' },
      attempts: 1,
      firstFailedAt: now,
      failedAt: now,
    });
    expect((await driver.push([envelope('q', { uniqueKey: 'k' })])).pushed).toHaveLength(1);
    expect(await driver.purge('q')).toBe(1);
    expect((await driver.push([envelope('q', { uniqueKey: 'k' })])).pushed).toHaveLength(1);
  });

  it('release() sends the job behind the jobs of its priority already waiting', async () => {
    const driver = createMemoryDriver();
    const a = envelope('q');
    const b = envelope('q');
    await driver.push([a, b]);
    const first = await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 });
    expect(first?.id).toBe(a.id);
    await driver.release(first!, { delayMs: 0 });
    expect((await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 }))?.id).toBe(b.id);
    expect((await driver.reserve(['q'], { leaseMs: 1_000, waitMs: 0 }))?.id).toBe(a.id);
  });

  it('rejects list() paging outside its range', async () => {
    const driver = createMemoryDriver();
    await expect(driver.deadLetters.list({ limit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(driver.deadLetters.list({ offset: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a store rebuilt from its JSON snapshot keeps jobs, leases, order and dead letters', async () => {
    const driver = createMemoryDriver();
    const [a, b, c] = [envelope('q'), envelope('q'), envelope('q')];
    await driver.push([a, b, c]);
    const held = await driver.reserve(['q'], { leaseMs: 60_000, waitMs: 0 });
    const dead = await driver.reserve(['q'], { leaseMs: 60_000, waitMs: 0 });
    const now = Date.now();
    await driver.deadLetter(dead!, {
      reason: 'failed',
      error: { name: 'Error', message: 'x' },
      attempts: 1,
      firstFailedAt: now,
      failedAt: now,
    });

    const copy = createMemoryDriver({ store: MemoryStore.fromSnapshot(JSON.parse(JSON.stringify(driver.store.snapshot()))) });
    expect(await copy.stats('q')).toMatchObject({ ready: 1, reserved: 1, dead: 1 });
    expect(await copy.deadLetters.get(b.id)).toMatchObject({ id: b.id, name: 'memory-test' });
    await expect(copy.ack({ ...held!, token: 'forged' })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await copy.ack(held!);
    const next = await copy.push([envelope('q')]);
    expect((await copy.reserve(['q'], { leaseMs: 1_000, waitMs: 0 }))?.id).toBe(c.id);
    expect((await copy.reserve(['q'], { leaseMs: 1_000, waitMs: 0 }))?.id).toBe(next.pushed[0]);
  });
});
