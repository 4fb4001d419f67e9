import { createEnvelope, InvalidArgumentError, JobCancelledError, type JobFailure, type Reservation } from '@queuekit/core';
import { completedRecord as record } from '@queuekit/driver-contract';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisDriver, queueKeys, type RedisDriver } from '../src/index.js';
import { runScript, scripts } from '../src/lua-scripts.js';
import { deletePrefix, REDIS_URL, randomPrefix, randomQueue } from './helpers.js';

// Driver-specific behaviour of lookup, retention, progress, cancel and pause: what is stored in
// Redis and where. The behaviour every driver shares is the contract suite's job-state group.

const opened: RedisDriver[] = [];
const prefixes: string[] = [];
const raw = new Redis(REDIS_URL);

function driver(options: Parameters<typeof createRedisDriver>[0] = {}): RedisDriver {
  const keyPrefix = options.keyPrefix ?? randomPrefix();
  prefixes.push(keyPrefix);
  const created = createRedisDriver({ connection: REDIS_URL, ...options, keyPrefix });
  opened.push(created);
  return created;
}

function failure(): JobFailure {
  const now = Date.now();
  return { reason: 'failed', error: { name: 'Error', message: 'boom' }, attempts: 1, firstFailedAt: now, failedAt: now };
}

async function reserveOne(d: RedisDriver, queue: string, holder?: string): Promise<Reservation> {
  const reservation = await d.reserve([queue], { leaseMs: 30_000, waitMs: 2_000, ...(holder === undefined ? {} : { holder }) });
  if (reservation === undefined) throw new Error(`nothing to reserve in ${queue}`);
  return reservation;
}

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((d) => d.close()));
  await Promise.all(prefixes.splice(0).map(deletePrefix));
});

afterAll(() => {
  raw.disconnect();
});

describe('retention in the ack scripts', () => {
  it('ack() prunes the completed records past the count in its own script: the list and hash hold exactly `count`', async () => {
    const d = driver({ retention: { count: 3, ageMs: 60_000 } });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const envelope = createEnvelope({ name: 'n', queue, payload: i });
      ids.push(envelope.id);
      await d.push([envelope]);
      const reservation = await reserveOne(d, queue);
      await d.ack(reservation, { record: record(reservation, i) });
    }
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual(ids.slice(3));
    expect((await raw.hkeys(keys.completedInfo)).sort()).toEqual(ids.slice(3).sort());
    // The keys expire once the last record is older than the age (within a second), so an idle queue keeps none for ever.
    for (const key of [keys.completedIds, keys.completedInfo]) {
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(61_000);
    }
  });

  it('the keys outlive the newest record by the age, though their expiry is set once per second of acks', async () => {
    const ageMs = 60_000;
    const d = driver({ retention: { count: 100, ageMs } });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    const ttls: number[] = [];
    // Acks 150 ms apart over ~2.4 s: some fall in the second of the one before, some in the next.
    for (let i = 0; i < 16; i += 1) {
      const envelope = createEnvelope({ name: 'n', queue, payload: i });
      await d.push([envelope]);
      const reservation = await reserveOne(d, queue);
      await d.ack(reservation, { record: record(reservation, i) });
      const [listTtl, infoTtl] = await Promise.all([raw.pttl(keys.completedIds), raw.pttl(keys.completedInfo)]);
      ttls.push(Math.min(listTtl, infoTtl));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    // Read right after the ack: never less than the age (less the few ms of the round trip), never past it by more than 1 s.
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThanOrEqual(ageMs - 50);
      expect(ttl).toBeLessThanOrEqual(ageMs + 1_000);
    }
  });

  it('ackAndClaim() keeps each record of a batch and prunes once past the count, claiming in the same call', async () => {
    const d = driver({ retention: { count: 4 } });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    await d.push(Array.from({ length: 10 }, (_, i) => createEnvelope({ name: 'n', queue, payload: i })));
    const claimed = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 6 });
    expect(claimed).toHaveLength(6);
    const result = await d.ackAndClaim(claimed, [queue], {
      leaseMs: 30_000,
      max: 4,
      holder: 'batch-host:7',
      records: claimed.map((r, i) => (i === 1 ? undefined : record(r, i))),
    });
    expect(result.leaseLost).toEqual([]);
    expect(result.claimed).toHaveLength(4);
    // Five records were given (the second ack kept none); the oldest one was pruned.
    const kept = claimed.filter((_, i) => i !== 1).slice(1);
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual(kept.map((r) => r.id));
    expect(await raw.hlen(keys.completedInfo)).toBe(4);
    expect(await d.stats(queue)).toMatchObject({ completed: 4, reserved: 4, ready: 0 });
    expect((await d.getJob(result.claimed[0]!.id))?.lease?.holder).toBe('batch-host:7');
  });

  it('ackAndClaim() of 1,200 deliveries (stored in chunks of 500 per command) deletes every job and keeps every record, in ack order', async () => {
    const d = driver({ retention: { count: 5_000 } });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    await d.push(Array.from({ length: 1_200 }, (_, i) => createEnvelope({ name: 'n', queue, payload: i })));
    const claimed = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 1_200 });
    expect(claimed).toHaveLength(1_200);
    const result = await d.ackAndClaim(claimed, [queue], { leaseMs: 30_000, max: 0, records: claimed.map((r, i) => record(r, i)) });
    expect(result.leaseLost).toEqual([]);
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual(claimed.map((r) => r.id));
    expect(await raw.hget(keys.completedInfo, claimed[1_100]!.id)).toContain('"result":1100');
    expect(await d.stats(queue)).toMatchObject({ completed: 1_200, reserved: 0, ready: 0 });
    expect(await raw.exists(...claimed.slice(0, 10).map((r) => `${keys.jobPrefix}${r.id}`))).toBe(0);
  });

  it('with a count of 20 (prune step 2), the records past the count are popped two at a time: never more than 21 kept', async () => {
    const d = driver({ retention: { count: 20 } });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    const sizes: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 26; i += 1) {
      const envelope = createEnvelope({ name: 'n', queue, payload: i });
      ids.push(envelope.id);
      await d.push([envelope]);
      const reservation = await reserveOne(d, queue);
      await d.ack(reservation, { record: record(reservation, i) });
      sizes.push(await raw.llen(keys.completedIds));
    }
    // 21 after the 21st record, back to 20 at the 22nd, and so on; the hash follows the list.
    expect(sizes.slice(19)).toEqual([20, 21, 20, 21, 20, 21, 20]);
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual(ids.slice(6));
    expect(await raw.hlen(keys.completedInfo)).toBe(20);
  });

  it('records an earlier version indexed in a zset are moved into the list by the next store, oldest first, and listed with the new ones', async () => {
    const d = driver({ retention: { count: 10 } });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    // As the earlier version left them: a zset scored finish time * 1024 beside the same hash of records.
    await d.push(Array.from({ length: 4 }, (_, i) => createEnvelope({ name: 'n', queue, payload: i })));
    const earlier = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 3 });
    const at = Date.now() - 5_000;
    for (const [i, r] of earlier.entries()) {
      await raw.zadd(keys.completedOldIndex, String((at + i) * 1024), r.id);
      await raw.hset(keys.completedInfo, r.id, record(r, i, at + i));
      await raw.del(keys.jobPrefix + r.id);
      await raw.zrem(keys.leased, r.id);
    }
    expect(await d.stats(queue)).toMatchObject({ completed: 3 });
    const last = await reserveOne(d, queue);
    await d.ack(last, { record: record(last, 3) });
    expect(await raw.exists(keys.completedOldIndex)).toBe(0);
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual([...earlier, last].map((r) => r.id));
    const listed = await d.listJobs({ queue, state: 'completed', limit: 10 });
    expect(listed.map((job) => job.id)).toEqual([last, ...earlier.reverse()].map((r) => r.id));
    expect(await d.stats(queue)).toMatchObject({ completed: 4 });
  });

  it('a job id used again keeps one record and one list entry, at its newer place', async () => {
    const d = driver();
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    const envelope = createEnvelope({ name: 'n', queue, payload: 0 });
    const other = createEnvelope({ name: 'n', queue, payload: 1 });
    await d.push([envelope]);
    const first = await reserveOne(d, queue);
    await d.ack(first, { record: record(first, 'first run') });
    await d.push([other]);
    const between = await reserveOne(d, queue);
    await d.ack(between, { record: record(between, 'other') });
    await d.push([envelope]);
    const again = await reserveOne(d, queue);
    expect(again.id).toBe(envelope.id);
    await d.ackAndClaim([again], [queue], { leaseMs: 30_000, max: 0, records: [record(again, 'second run')] });
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual([other.id, envelope.id]);
    expect(await d.getJob(envelope.id)).toMatchObject({ state: 'completed', result: 'second run' });
    expect((await d.listJobs({ queue, state: 'completed', limit: 10 })).map((job) => job.id)).toEqual([envelope.id, other.id]);
  });

  it('records older than the age by their finish time leave from the front of the list, behind none younger', async () => {
    const d = driver({ retention: { count: 100, ageMs: 60_000 } });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    await d.push(Array.from({ length: 3 }, (_, i) => createEnvelope({ name: 'n', queue, payload: i })));
    const [old, fresh, lateOld] = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 3 });
    // The first store of a queue's records looks at their age at once: one finished two minutes ago goes.
    await d.ack(old!, { record: record(old!, 'old', Date.now() - 120_000) });
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual([]);
    expect(await d.getJob(old!.id)).toBeUndefined();
    await d.ack(fresh!, { record: record(fresh!, 'fresh') });
    // The walk from the front stops at the first young record, and looks again a second later at the earliest.
    await d.ack(lateOld!, { record: record(lateOld!, 'late', Date.now() - 120_000) });
    expect(await raw.lrange(keys.completedIds, 0, -1)).toEqual([fresh!.id, lateOld!.id]);
  });

  it('with retention false, an ack given a record stores nothing and stats leave `completed` out', async () => {
    const d = driver({ retention: false });
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    await d.push([createEnvelope({ name: 'n', queue, payload: {} })]);
    const reservation = await reserveOne(d, queue);
    await d.ack(reservation, { record: record(reservation, 'dropped') });
    expect(await raw.exists(keys.completedIds, keys.completedInfo)).toBe(0);
    const stats = await d.stats(queue);
    expect(stats).not.toHaveProperty('completed');
    expect(stats.paused).toBe(false);
  });

  it('refuses bad retention options with an InvalidArgumentError naming the field', () => {
    expect(() => createRedisDriver({ connection: REDIS_URL, retention: { count: 0 } })).toThrow(InvalidArgumentError);
    expect(() => createRedisDriver({ connection: REDIS_URL, retention: { count: 0 } })).toThrow(/redis: retention\.count/);
    expect(() => createRedisDriver({ connection: REDIS_URL, retention: { ageMs: -1 } })).toThrow(/redis: retention\.ageMs/);
  });
});

describe('lookup', () => {
  it('a driver that never used the queue finds a job by id alone, through the registry of queues', async () => {
    const producer = driver();
    const queue = randomQueue();
    const envelope = createEnvelope({ name: 'n', queue, payload: { k: 1 } });
    await producer.push([createEnvelope({ name: 'n', queue: randomQueue(), payload: {} }), envelope]);
    const stranger = driver({ keyPrefix: producer.keyPrefix });
    expect(await stranger.getJob(envelope.id)).toMatchObject({ id: envelope.id, queue, state: 'waiting' });
    expect(await stranger.getJob(envelope.id, { queue: randomQueue() })).toBeUndefined();
  });

  it('a job claimed by a waiting reserve (the claim pipelined behind the blocking pop) carries its holder and start', async () => {
    const d = driver();
    const queue = randomQueue();
    const waiting = d.reserve([queue], { leaseMs: 30_000, waitMs: 5_000, holder: 'blocked-host:9' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const envelope = createEnvelope({ name: 'n', queue, payload: {} });
    await driver({ keyPrefix: d.keyPrefix }).push([envelope]);
    const reservation = await waiting;
    expect(reservation?.id).toBe(envelope.id);
    const info = await d.getJob(envelope.id, { queue });
    expect(info?.lease).toEqual({ holder: 'blocked-host:9', expiresAt: reservation?.leaseExpiresAt });
    expect(info?.startedAt).toBeGreaterThan(Date.now() - 5_000);
  });

  it('listJobs() with limit 0 returns nothing; a bad queue name or id is refused', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'n', queue, payload: {} })]);
    expect(await d.listJobs({ queue, state: 'waiting', limit: 0 })).toEqual([]);
    await expect(d.listJobs({ queue: 'bad name', state: 'waiting' })).rejects.toThrow(InvalidArgumentError);
    await expect(d.getJob('x', { queue: 'bad{name}' })).rejects.toThrow(InvalidArgumentError);
    await expect(d.getJob('')).rejects.toThrow(InvalidArgumentError);
    await expect(d.cancel('')).rejects.toThrow(InvalidArgumentError);
  });
});

describe('cancel', () => {
  it('release, deadLetter and setProgress of a job cancelled while it ran throw JobCancelledError; the record stays', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'n', queue, payload: {} }), createEnvelope({ name: 'n', queue, payload: {} })]);
    const first = await reserveOne(d, queue);
    await d.setProgress(first, '50');
    expect(await d.cancel(first.id)).toBe('cancelled');
    await expect(d.release(first, { delayMs: 0 })).rejects.toThrow(JobCancelledError);
    await expect(d.deadLetter(first, failure())).rejects.toThrow(JobCancelledError);
    await expect(d.setProgress(first, '60')).rejects.toThrow(JobCancelledError);
    await d.ack(first, { record: record(first, 'late') });
    expect(await d.getJob(first.id)).toMatchObject({ state: 'cancelled', progress: 50, attempts: 0 });
    expect(await d.deadLetters.count({ queue })).toBe(0);
  });

  it('cancel.lua changes nothing when the job changed since it was read', async () => {
    const d = driver();
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    const envelope = createEnvelope({ name: 'n', queue, payload: {} });
    await d.push([envelope]);
    // Read as waiting (no token), then claimed before the cancel runs.
    await reserveOne(d, queue);
    const reply = await runScript(
      d.client,
      scripts.cancel,
      [keys.ready, keys.delayed, keys.leased, keys.unique, keys.cancelledIds, keys.cancelledInfo, keys.cancelledOldIndex],
      [keys.jobPrefix + envelope.id, envelope.id, '', '0', '', '{}', 1_000, 60_000, 100],
    );
    expect(reply).toBe(-1);
    expect(await d.getJob(envelope.id)).toMatchObject({ state: 'active' });
    expect(await raw.exists(keys.cancelledIds, keys.cancelledInfo)).toBe(0);
  });
});

describe('pause', () => {
  it('is one key per queue, seen by claims of every driver; stats say so', async () => {
    const d = driver();
    const queue = randomQueue();
    const keys = queueKeys(d.keyPrefix, queue);
    await d.pause(queue);
    expect(await raw.exists(keys.paused)).toBe(1);
    await d.push([createEnvelope({ name: 'n', queue, payload: {} })]);
    const other = driver({ keyPrefix: d.keyPrefix });
    expect(await other.ackAndClaim([], [queue], { leaseMs: 30_000, max: 5 })).toEqual({ leaseLost: [], claimed: [] });
    expect(await other.stats(queue)).toMatchObject({ ready: 1, paused: true });
    await other.resume(queue);
    expect(await raw.exists(keys.paused)).toBe(0);
    expect((await other.ackAndClaim([], [queue], { leaseMs: 30_000, max: 5 })).claimed).toHaveLength(1);
  });
});
