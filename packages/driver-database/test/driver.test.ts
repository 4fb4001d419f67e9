import { createEnvelope, DriverClosedError, type JobFailure, LeaseLostError, type QueueDriver, type Reservation } from '@queuekit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, type Dialect } from './dialects.js';
import { randomQueue } from './helpers.js';

function failure(at: number, message = 'boom'): JobFailure {
  return { reason: 'failed', error: { name: 'Error', message }, attempts: 1, firstFailedAt: at, failedAt: at };
}

async function reserveNow(driver: QueueDriver, queue: string, leaseMs = 30_000): Promise<Reservation> {
  const reservation = await driver.reserve([queue], { leaseMs, waitMs: 0 });
  if (reservation === undefined) throw new Error(`nothing to reserve in ${queue}`);
  return reservation;
}

describe.each(DIALECTS)('$name driver', ({ setup }) => {
  let dialect: Dialect;
  let driver: QueueDriver;
  let queue: string;

  beforeEach(() => {
    dialect = setup();
    driver = dialect.open();
    queue = randomQueue();
  });
  afterEach(async () => {
    await dialect.cleanup();
  });

  it('acks made at once all settle; a lost lease fails only its own', async () => {
    await driver.push(Array.from({ length: 20 }, (_, i) => createEnvelope({ name: `job-${i}`, queue })));
    const taken: Reservation[] = [];
    for (let i = 0; i < 19; i++) taken.push(await reserveNow(driver, queue));
    const stale = await reserveNow(driver, queue, 50);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const other = dialect.open();
    const current = await reserveNow(other, queue);
    expect(current.id).toBe(stale.id);
    const settled = await Promise.allSettled([...taken, stale].map((r) => driver.ack(r)));
    expect(settled.slice(0, 19).map((s) => s.status)).toEqual(Array.from({ length: 19 }, () => 'fulfilled'));
    expect(settled[19]?.status).toBe('rejected');
    expect((settled[19] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
    expect(await driver.stats!(queue)).toMatchObject({ ready: 0, reserved: 1 });
    await other.ack(current);
    expect(await driver.stats!(queue)).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('reserve() hands out jobs by priority, then in push order, as first attempts', async () => {
    const low = createEnvelope({ name: 'low', queue, priority: 30 });
    const first = createEnvelope({ name: 'first', queue, priority: 10 });
    const second = createEnvelope({ name: 'second', queue, priority: 10 });
    const result = await driver.push([low, first, second]);
    expect(result.pushed).toEqual([low.id, first.id, second.id]);
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await reserveNow(driver, queue);
      expect(r).toMatchObject({ attempt: 1, lostDeliveries: 0 });
      order.push(r.envelope!.name);
      await driver.ack(r);
    }
    expect(order).toEqual(['first', 'second', 'low']);
    expect(await driver.reserve([queue], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
  });

  it('reserve() takes from the first non-empty queue in the given order', async () => {
    const other = randomQueue();
    await driver.push([createEnvelope({ name: 'a', queue: other }), createEnvelope({ name: 'b', queue })]);
    expect((await reserveNow(driver, queue)).envelope?.name).toBe('b');
    const next = await driver.reserve([queue, other], { leaseMs: 1_000, waitMs: 0 });
    expect(next?.queue).toBe(other);
  });

  it('an expired lease is reclaimed by the next claim as a lost delivery, and the old token is fenced off', async () => {
    await driver.push([createEnvelope({ name: 'job', queue })]);
    const stale = await reserveNow(driver, queue, 50);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const fresh = await reserveNow(driver, queue);
    expect(fresh.id).toBe(stale.id);
    // The lost delivery is counted by the claim that took it over; no run failed.
    expect(fresh).toMatchObject({ attempt: 1, lostDeliveries: 1 });
    expect(fresh.token).not.toBe(stale.token);
    await expect(driver.ack(stale)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(driver.release(stale, { delayMs: 0 })).rejects.toBeInstanceOf(LeaseLostError);
    await expect(driver.extend(stale, 1_000)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(driver.deadLetter(stale, failure(Date.now()))).rejects.toBeInstanceOf(LeaseLostError);
    // None of the refused calls touched the live delivery.
    expect((await driver.stats(queue)).reserved).toBe(1);
    expect(await driver.deadLetters.count({ queue })).toBe(0);
    await driver.ack(fresh);
    await driver.ack(fresh);
    expect((await driver.stats(queue)).reserved).toBe(0);
  });

  it('release() with a delay hides the job, then redelivers the rewritten envelope as the next attempt', async () => {
    const envelope = createEnvelope({ name: 'job', queue, payload: { n: 1 } });
    await driver.push([envelope]);
    const r = await reserveNow(driver, queue);
    await driver.release(r, { delayMs: 200, envelope: { ...envelope, payload: { n: 2 } } });
    expect(await driver.reserve([queue], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
    expect((await driver.stats(queue)).delayed).toBe(1);
    const again = await driver.reserve([queue], { leaseMs: 1_000, waitMs: 5_000 });
    expect(again?.envelope?.payload).toEqual({ n: 2 });
    expect(again).toMatchObject({ attempt: 2, lostDeliveries: 0 });
  });

  it('extend() moves the lease expiry forward', async () => {
    await driver.push([createEnvelope({ name: 'job', queue })]);
    const r = await reserveNow(driver, queue, 1_000);
    const expiry = await driver.extend(r, 60_000);
    expect(expiry).toBeGreaterThan(r.leaseExpiresAt + 30_000);
  });

  it('a delayed push is not delivered before it is due', async () => {
    await driver.push([createEnvelope({ name: 'later', queue, availableAt: Date.now() + 60_000 })]);
    expect(await driver.reserve([queue], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
    const stats = await driver.stats(queue);
    expect(stats).toMatchObject({ ready: 0, delayed: 1, reserved: 0, dead: 0, oldestReadyAt: undefined });
  });

  it('unique keys: a held key skips the push until the holder is acked or dead-lettered', async () => {
    const a = createEnvelope({ name: 'a', queue, uniqueKey: 'user-1' });
    const b = createEnvelope({ name: 'b', queue, uniqueKey: 'user-1' });
    const c = createEnvelope({ name: 'c', queue, uniqueKey: 'user-1' });
    expect(await driver.push([a, b])).toEqual({ pushed: [a.id], skipped: [b.id] });
    const r = await reserveNow(driver, queue);
    expect((await driver.push([b])).skipped).toEqual([b.id]);
    await driver.deadLetter(r, failure(Date.now()));
    expect((await driver.push([b])).pushed).toEqual([b.id]);
    await driver.ack(await reserveNow(driver, queue));
    expect((await driver.push([c])).pushed).toEqual([c.id]);
  });

  it('a bulk push stores every payload as it was: line breaks, quotes, backslashes and separators in any field', async () => {
    const texts = [
      'line\nbreak',
      'carriage\r\nreturn',
      'quote " and \\ backslash',
      '{"looks":"like json"}',
      'sep\u2028arators\u2029',
      'tab\there',
      '',
    ];
    const batch = Array.from({ length: 300 }, (_, i) =>
      createEnvelope({
        name: `job\n${i}`,
        queue,
        payload: { i, text: texts[i % texts.length]!, nested: { list: [texts[(i + 1) % texts.length]!] } },
      }),
    );
    expect((await driver.push(batch)).pushed).toEqual(batch.map((e) => e.id));
    for (const envelope of batch) {
      const reservation = await reserveNow(driver, queue);
      expect(reservation.id).toBe(envelope.id);
      expect(reservation.envelope?.name).toBe(envelope.name);
      expect(reservation.envelope?.payload).toEqual(envelope.payload);
    }
  });

  it('a push of 5,000 envelopes skips exactly the ids and unique keys already held, in the batch or stored', async () => {
    const stored = Array.from({ length: 100 }, (_, i) => createEnvelope({ name: 'stored', queue, uniqueKey: `held-${i}` }));
    expect((await driver.push(stored)).pushed).toHaveLength(100);
    const batch = Array.from({ length: 5_000 }, (_, i) => {
      // 0–99: keys held by stored jobs; 100–199: 50 keys, each twice in this batch; the rest: no key.
      const uniqueKey = i < 100 ? `held-${i}` : i < 200 ? `twice-${i % 50}` : undefined;
      return createEnvelope({ name: `job-${i}`, queue, payload: { i }, ...(uniqueKey === undefined ? {} : { uniqueKey }) });
    });
    // Ids already stored, and an id repeated inside the batch, are skipped too.
    const input = [...batch, stored[0]!, stored[1]!, batch[300]!, batch[4_999]!];
    const expectedSkipped = [
      ...batch.slice(0, 100).map((e) => e.id),
      ...batch.slice(150, 200).map((e) => e.id),
      stored[0]!.id,
      stored[1]!.id,
      batch[300]!.id,
      batch[4_999]!.id,
    ];
    const expectedPushed = [...batch.slice(100, 150), ...batch.slice(200)].map((e) => e.id);
    const result = await driver.push(input);
    expect(result.skipped).toEqual(expectedSkipped);
    expect(result.pushed).toEqual(expectedPushed);
    expect(result.pushed).toHaveLength(4_850);
    expect(await driver.stats!(queue)).toMatchObject({ ready: 4_950, delayed: 0, reserved: 0 });
    // Stored in push order: after the 100 stored jobs come the pushed ones, first to last.
    for (const id of stored.map((e) => e.id)) expect((await reserveNow(driver, queue)).id).toBe(id);
    const first = await reserveNow(driver, queue);
    expect(first.id).toBe(batch[100]!.id);
    expect(first.envelope?.payload).toEqual({ i: 100 });
  });

  it('an undecodable body comes back as a poison reservation and can be dead-lettered', async () => {
    await driver.stats(queue);
    const id = await dialect.pushRaw(queue, '{not json');
    const r = await reserveNow(driver, queue);
    expect(r.id).toBe(id);
    expect(r.envelope).toBeUndefined();
    expect(r.poison?.raw).toBe('{not json');
    expect(r.poison?.error).toBeInstanceOf(Error);
    await driver.deadLetter(r, { ...failure(Date.now()), reason: 'poison' });
    const entry = await driver.deadLetters.get(id);
    expect(entry).toMatchObject({ id, queue, name: undefined, envelope: undefined, raw: '{not json', reason: 'poison' });
    await expect(driver.deadLetters.retry(id)).rejects.toThrow(/poison/);
    expect(await driver.deadLetters.retryAll({ queue })).toBe(0);
  });

  it('the dead-letter store lists newest first with filters and paging, and retries and purges', async () => {
    const other = randomQueue();
    const envelopes = [0, 1, 2].map((i) => createEnvelope({ name: `job-${i}`, queue }));
    const foreign = createEnvelope({ name: 'foreign', queue: other });
    await driver.push([...envelopes, foreign]);
    const base = 1_700_000_000_000;
    for (let i = 0; i < 3; i++) await driver.deadLetter(await reserveNow(driver, queue), failure(base + i * 1_000, `e${i}`));
    await driver.deadLetter(await reserveNow(driver, other), failure(base + 10_000));

    expect((await driver.deadLetters.list({ queue })).map((e) => e.name)).toEqual(['job-2', 'job-1', 'job-0']);
    expect((await driver.deadLetters.list({ queue, limit: 1, offset: 1 })).map((e) => e.name)).toEqual(['job-1']);
    expect((await driver.deadLetters.list({ queue, failedBefore: base + 1_500 })).map((e) => e.name)).toEqual(['job-1', 'job-0']);
    expect(await driver.deadLetters.count()).toBe(4);
    expect(await driver.deadLetters.count({ queue })).toBe(3);
    const entry = await driver.deadLetters.get(envelopes[0]!.id);
    expect(entry).toMatchObject({ queue, name: 'job-0', reason: 'failed', error: { message: 'e0' }, attempts: 1, failedAt: base });
    expect(entry?.envelope?.id).toBe(envelopes[0]!.id);
    expect(await driver.deadLetters.get('missing')).toBeUndefined();
    expect((await driver.stats(queue)).dead).toBe(3);

    expect(await driver.deadLetters.retry(envelopes[0]!.id)).toBe(true);
    expect(await driver.deadLetters.retry(envelopes[0]!.id)).toBe(false);
    const retried = await reserveNow(driver, queue);
    expect(retried.id).toBe(envelopes[0]!.id);
    expect(retried).toMatchObject({ attempt: 1, lostDeliveries: 0 });
    await driver.ack(retried);

    expect(await driver.deadLetters.retryAll({ queue, failedBefore: base + 1_500 })).toBe(1);
    expect(await driver.deadLetters.purge({ queue })).toBe(1);
    expect(await driver.deadLetters.count({ queue })).toBe(0);
    expect(await driver.deadLetters.count()).toBe(1);
  });

  it('stats() counts ready, delayed, reserved and dead jobs; purge() removes ready and delayed ones', async () => {
    const before = Date.now();
    await driver.push([
      createEnvelope({ name: 'a', queue }),
      createEnvelope({ name: 'b', queue }),
      createEnvelope({ name: 'c', queue }),
      createEnvelope({ name: 'd', queue, availableAt: Date.now() + 60_000 }),
    ]);
    await reserveNow(driver, queue);
    await driver.deadLetter(await reserveNow(driver, queue), failure(Date.now()));
    const stats = await driver.stats(queue);
    expect(stats).toMatchObject({ queue, ready: 1, delayed: 1, reserved: 1, dead: 1 });
    expect(stats.oldestReadyAt).toBeGreaterThan(before - 60_000);
    expect(await driver.purge(queue)).toBe(2);
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 1, dead: 1 });
  });

  it('reserve() waits for a job pushed while it waits', async () => {
    const waiting = driver.reserve([queue], { leaseMs: 1_000, waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await driver.push([createEnvelope({ name: 'late', queue })]);
    expect((await waiting)?.envelope?.name).toBe('late');
  });

  it('an aborted signal ends a waiting reserve with undefined', async () => {
    const controller = new AbortController();
    const waiting = driver.reserve([queue], { leaseMs: 1_000, waitMs: 20_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    expect(await waiting).toBeUndefined();
  });

  it('ping() measures a round trip', async () => {
    expect(await driver.ping()).toBeGreaterThanOrEqual(0);
  });

  it('close() lets a waiting reserve finish and refuses new calls', async () => {
    const waiting = driver.reserve([queue], { leaseMs: 1_000, waitMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await driver.close();
    expect(await waiting).toBeUndefined();
    await expect(driver.push([createEnvelope({ name: 'x', queue })])).rejects.toBeInstanceOf(DriverClosedError);
    await driver.close();
  });

  it('the rate-limit store keeps a token bucket in a row', async () => {
    const store = (dialect.open() as { createRateLimitStore(): import('@queuekit/core').RateLimitStore }).createRateLimitStore();
    const rule = { limit: 2, intervalMs: 60_000 };
    expect(await store.peek('bucket', rule)).toBe(2);
    expect(await store.take('bucket', rule)).toMatchObject({ granted: true, remaining: 1 });
    expect(await store.take('bucket', rule)).toMatchObject({ granted: true, remaining: 0 });
    const refused = await store.take('bucket', rule);
    expect(refused.granted).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(30_000);
    expect(await store.peek('bucket', rule)).toBe(0);
    expect((await store.take('other', rule, 3)).granted).toBe(false);
  });
});

/** The batch members, which both dialects declare (`capabilities.batch`). */
type BatchDriver = QueueDriver & Required<Pick<QueueDriver, 'claim' | 'ackAndClaim' | 'extendMany'>>;

describe.each(DIALECTS)('$name driver: batch members', ({ setup }) => {
  let dialect: Dialect;
  let driver: BatchDriver;
  let queue: string;
  const lease = { leaseMs: 30_000, waitMs: 0 };
  const names = (rs: readonly Reservation[]) => rs.map((r) => r.envelope?.name);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeEach(() => {
    dialect = setup();
    driver = dialect.open() as BatchDriver;
    queue = randomQueue();
  });
  afterEach(async () => {
    await dialect.cleanup();
  });

  it('declares batch', () => {
    expect(driver.capabilities.batch).toBe(true);
  });

  it('claim(max) returns up to max jobs: queues in the given order, then priority, then push order', async () => {
    const other = randomQueue();
    await driver.push([
      createEnvelope({ name: 'other-1', queue: other, priority: 1 }),
      createEnvelope({ name: 'low', queue, priority: 30 }),
      createEnvelope({ name: 'a', queue, priority: 10 }),
      createEnvelope({ name: 'b', queue, priority: 10 }),
    ]);
    expect(names(await driver.claim([queue, other], { ...lease, max: 2 }))).toEqual(['a', 'b']);
    const rest = await driver.claim([queue, other], { ...lease, max: 10 });
    expect(names(rest)).toEqual(['low', 'other-1']);
    expect(rest.every((r) => r.attempt === 1 && r.lostDeliveries === 0)).toBe(true);
    expect(await driver.claim([queue, other], { ...lease, max: 10 })).toEqual([]);
  });

  it('claim() waits for the first job up to waitMs', async () => {
    const waiting = driver.claim([queue], { leaseMs: 30_000, waitMs: 10_000, max: 5 });
    await sleep(50);
    await driver.push([createEnvelope({ name: 'late', queue })]);
    expect(names(await waiting)).toEqual(['late']);
  });

  it('ackAndClaim() acknowledges and claims in one call, and reports a lost lease only for its own ack', async () => {
    await driver.push(Array.from({ length: 6 }, (_, i) => createEnvelope({ name: `job-${i}`, queue })));
    const [first, second] = await driver.claim([queue], { ...lease, max: 2 });
    const stale = (await driver.claim([queue], { leaseMs: 50, waitMs: 0, max: 1 }))[0]!;
    await sleep(150);
    const current = await reserveNow(dialect.open(), queue);
    expect(current.id).toBe(stale.id);
    const result = await driver.ackAndClaim([first!, stale, second!], [queue], { leaseMs: 30_000, max: 2 });
    expect(result.leaseLost).toEqual([stale]);
    expect(names(result.claimed)).toEqual(['job-3', 'job-4']);
    // Acked: gone. The lost one is still held by its current delivery, untouched.
    expect(await driver.stats(queue)).toMatchObject({ ready: 1, reserved: 3 });
    const onlyAcks = await driver.ackAndClaim([...result.claimed, current], [queue], { leaseMs: 30_000, max: 0 });
    expect(onlyAcks).toEqual({ leaseLost: [], claimed: [] });
    // An already-acknowledged job counts as acknowledged.
    expect((await driver.ackAndClaim([first!], [queue], { leaseMs: 30_000, max: 1 })).leaseLost).toEqual([]);
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, reserved: 1 });
  });

  it('giveBack() puts jobs back first in their band with neither count changed, and skips a lost lease', async () => {
    await driver.push([createEnvelope({ name: 'job-0', queue }), createEnvelope({ name: 'job-1', queue })]);
    const failing = await reserveNow(driver, queue);
    await driver.release(failing, { delayMs: 0 });
    const [again, next] = await driver.claim([queue], { ...lease, max: 2 });
    expect(again).toMatchObject({ id: failing.id, attempt: 2, lostDeliveries: 0 });
    await driver.push([createEnvelope({ name: 'job-2', queue })]);
    expect(await driver.giveBack([again!, next!])).toBe(2);
    const claimed = await driver.claim([queue], { ...lease, max: 3 });
    expect(names(claimed)).toEqual(['job-0', 'job-1', 'job-2']);
    expect(claimed.map((r) => [r.attempt, r.lostDeliveries])).toEqual([
      [2, 0],
      [1, 0],
      [1, 0],
    ]);
    // A reservation whose lease was lost is left alone.
    expect(await driver.giveBack([again!])).toBe(0);
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, reserved: 3 });
    expect(await driver.giveBack([])).toBe(0);
  });

  it('a lease that runs out counts one lost delivery, not an attempt; a release counts an attempt', async () => {
    await driver.push([createEnvelope({ name: 'job', queue })]);
    await driver.claim([queue], { leaseMs: 50, waitMs: 0, max: 1 });
    await sleep(150);
    const taken = (await driver.claim([queue], { ...lease, max: 1 }))[0]!;
    expect(taken).toMatchObject({ attempt: 1, lostDeliveries: 1 });
    await driver.release(taken, { delayMs: 0 });
    expect(await reserveNow(driver, queue)).toMatchObject({ attempt: 2, lostDeliveries: 1 });
  });

  it('a dead-letter retry starts both counts again', async () => {
    await driver.push([createEnvelope({ name: 'job', queue })]);
    await driver.release(await reserveNow(driver, queue), { delayMs: 0 });
    await reserveNow(driver, queue, 50);
    await sleep(150);
    const last = await reserveNow(driver, queue);
    expect(last).toMatchObject({ attempt: 2, lostDeliveries: 1 });
    await driver.deadLetter(last, failure(Date.now()));
    expect(await driver.deadLetters.retry(last.id)).toBe(true);
    expect(await reserveNow(driver, queue)).toMatchObject({ id: last.id, attempt: 1, lostDeliveries: 0 });
  });

  it('extendMany() renews many leases in one call; undefined where the lease was lost', async () => {
    await driver.push([createEnvelope({ name: 'a', queue }), createEnvelope({ name: 'b', queue })]);
    const held = await reserveNow(driver, queue, 1_000);
    const stale = await reserveNow(driver, queue, 50);
    await sleep(150);
    await reserveNow(dialect.open(), queue);
    const expiries = await driver.extendMany([held, stale], 60_000);
    expect(expiries).toHaveLength(2);
    expect(expiries[0]).toBeGreaterThan(held.leaseExpiresAt + 30_000);
    expect(expiries[1]).toBeUndefined();
    expect(await driver.extendMany([], 60_000)).toEqual([]);
  });
});
