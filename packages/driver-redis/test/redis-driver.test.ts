import {
  ConfigError,
  createEnvelope,
  DriverClosedError,
  DriverConnectionError,
  DriverError,
  type JobFailure,
  LeaseLostError,
  PayloadTooLargeError,
} from '@queuekit/core';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisDriver, queueKeys, type RedisDriver } from '../src/index.js';
import { runIdempotentScript, runScript, scripts } from '../src/lua-scripts.js';
import { deletePrefix, REDIS_URL, randomPrefix, randomQueue, sleep } from './helpers.js';

const opened: RedisDriver[] = [];
const prefixes: string[] = [];

function driver(options: Parameters<typeof createRedisDriver>[0] = {}): RedisDriver {
  const keyPrefix = options.keyPrefix ?? randomPrefix();
  prefixes.push(keyPrefix);
  const created = createRedisDriver({ connection: REDIS_URL, ...options, keyPrefix });
  opened.push(created);
  return created;
}

function failure(overrides: Partial<JobFailure> = {}): JobFailure {
  const now = Date.now();
  return { reason: 'failed', error: { name: 'Error', message: 'boom' }, attempts: 1, firstFailedAt: now, failedAt: now, ...overrides };
}

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((d) => d.close()));
  await Promise.all(prefixes.splice(0).map(deletePrefix));
});

describe('options', () => {
  it.each(['', 'has space', 'brace{x}', 'ends:', 'x'.repeat(65), 'ü'])('rejects the key prefix %j with a ConfigError', (keyPrefix) => {
    expect(() => createRedisDriver({ connection: REDIS_URL, keyPrefix })).toThrow(ConfigError);
  });

  it('accepts prefixes with dots, dashes and inner colons', async () => {
    const d = driver({ keyPrefix: `app.v1:${randomPrefix()}` });
    expect(d.keyPrefix).toMatch(/^app\.v1:qkt-/);
    expect(await d.ping()).toBeGreaterThanOrEqual(0);
  });

  it('rejects a client whose ioredis keyPrefix is set', () => {
    const client = new Redis(REDIS_URL, { keyPrefix: 'x:', lazyConnect: true });
    expect(() => createRedisDriver({ connection: client })).toThrow(ConfigError);
    client.disconnect();
  });

  it('uses a given client without closing it', async () => {
    const client = new Redis(REDIS_URL);
    try {
      const d = driver({ connection: client });
      const queue = randomQueue();
      await d.push([createEnvelope({ name: 'a', queue })]);
      expect(await d.reserve([queue], { leaseMs: 1000, waitMs: 100 })).toBeDefined();
      await d.close();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('closes the connections it created, blocking ones included', async () => {
    const name = `qkt-close-${randomPrefix()}`;
    const d = driver({ connectionName: name });
    const admin = new Redis(REDIS_URL);
    try {
      const queue = randomQueue();
      await d.reserve([queue], { leaseMs: 1000, waitMs: 50 });
      const count = async () =>
        String(await admin.client('LIST'))
          .split('\n')
          .filter((line: string) => line.includes(`name=${name}`)).length;
      expect(await count()).toBe(2);
      await d.close();
      await sleep(50);
      expect(await count()).toBe(0);
    } finally {
      admin.disconnect();
    }
  });
});

describe('errors', () => {
  it('refuses an envelope above maxMessageBytes with PayloadTooLargeError and stores nothing', async () => {
    const d = driver({ maxMessageBytes: 1024 });
    const queue = randomQueue();
    const big = createEnvelope({ name: 'big', queue, payload: { text: 'x'.repeat(2000) } });
    await expect(d.push([createEnvelope({ name: 'small', queue }), big])).rejects.toThrow(PayloadTooLargeError);
    expect((await d.stats(queue)).ready).toBe(0);
    expect(d.capabilities.maxMessageBytes).toBe(1024);
  });

  it('counts bytes, not characters, against maxMessageBytes', async () => {
    const d = driver({ maxMessageBytes: 1024 });
    const queue = randomQueue();
    await expect(d.push([createEnvelope({ name: 'wide', queue, payload: 'é'.repeat(500) })])).rejects.toThrow(PayloadTooLargeError);
  });

  it('surfaces an unreachable server as DriverConnectionError prefixed redis:', async () => {
    const d = driver({ connection: { host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, retryStrategy: () => null } });
    const error = await d.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverConnectionError);
    expect((error as Error).message).toMatch(/^redis: /);
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('wraps a server error as DriverError with the cause', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.client.set(queueKeys(d.keyPrefix, queue).ready, 'not a zset');
    const error = await d.push([createEnvelope({ name: 'a', queue })]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as Error).message).toMatch(/^redis: push failed: .*WRONGTYPE/);
    expect((error as Error).cause).toBeDefined();
  });

  it('throws DriverClosedError after close', async () => {
    const d = driver();
    await d.close();
    await expect(d.ping()).rejects.toThrow(DriverClosedError);
    await expect(d.reserve([randomQueue()], { leaseMs: 1000, waitMs: 0 })).rejects.toThrow(DriverClosedError);
  });
});

describe('ordering and leases', () => {
  it('delivers by priority, then FIFO within a priority', async () => {
    const d = driver();
    const queue = randomQueue();
    const names = ['low-1', 'high-1', 'mid-1', 'high-2', 'low-2', 'mid-2'];
    const priority = { low: 30, mid: 20, high: 10 } as Record<string, number>;
    await d.push(names.map((name) => createEnvelope({ name, queue, priority: priority[name.split('-')[0]!]! })));
    const order: string[] = [];
    for (let i = 0; i < names.length; i += 1) {
      const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
      order.push(r!.envelope!.name);
      await d.ack(r!);
    }
    expect(order).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1', 'low-2']);
  });

  it('reclaims an expired lease in the claim, counting the delivery once, and fences the old token', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'a', queue })]);
    const first = await d.reserve([queue], { leaseMs: 100, waitMs: 0 });
    expect(first!.deliveryCount).toBe(1);
    await sleep(150);
    const second = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    expect(second!.id).toBe(first!.id);
    expect(second!.deliveryCount).toBe(2);
    await expect(d.ack(first!)).rejects.toThrow(LeaseLostError);
    await expect(d.extend(first!, 1000)).rejects.toThrow(LeaseLostError);
    await expect(d.release(first!, { delayMs: 0 })).rejects.toThrow(LeaseLostError);
    await expect(d.deadLetter(first!, failure())).rejects.toThrow(LeaseLostError);
    expect((await d.stats(queue)).reserved).toBe(1);
    await d.ack(second!);
    await d.ack(second!);
    expect(await d.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
  });

  it('stores the envelope given to release and delays it', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'a', queue, payload: 1 })]);
    const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    const failedAt = Date.now();
    await d.release(r!, {
      delayMs: 200,
      envelope: { ...r!.envelope!, failure: { firstFailedAt: failedAt, lastFailedAt: failedAt, lastError: { name: 'E', message: 'm' } } },
    });
    expect(await d.stats(queue)).toMatchObject({ ready: 0, delayed: 1, reserved: 0 });
    expect(await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 })).toBeUndefined();
    const again = await d.reserve([queue], { leaseMs: 10_000, waitMs: 3_000 });
    expect(again!.envelope!.failure!.lastError.message).toBe('m');
    expect(again!.deliveryCount).toBe(2);
  });

  it('reports oldestReadyAt from the oldest ready job across priorities', async () => {
    const d = driver();
    const queue = randomQueue();
    expect((await d.stats(queue)).oldestReadyAt).toBeUndefined();
    const before = Date.now();
    await d.push([createEnvelope({ name: 'old', queue, priority: 30 })]);
    const afterFirst = Date.now();
    await sleep(30);
    const beforeSecond = Date.now();
    await d.push([createEnvelope({ name: 'new', queue, priority: 10 })]);
    const stats = await d.stats(queue);
    expect(stats.ready).toBe(2);
    // Redis TIME and Date.now() read the same clock here; the oldest is the LOW job pushed first.
    expect(stats.oldestReadyAt).toBeGreaterThanOrEqual(before - 5);
    expect(stats.oldestReadyAt).toBeLessThanOrEqual(afterFirst + 5);
    expect(stats.oldestReadyAt).toBeLessThan(beforeSecond);
  });
});

describe('blocking reserve', () => {
  it('wakes a blocked reserver when a delayed job comes due, with nothing else pushed', async () => {
    const d = driver();
    const queue = randomQueue();
    const waiting = d.reserve([queue], { leaseMs: 10_000, waitMs: 5_000 });
    await sleep(50);
    const pushedAt = Date.now();
    await d.push([createEnvelope({ name: 'later', queue, availableAt: pushedAt + 300 })]);
    const r = await waiting;
    expect(r?.envelope?.name).toBe('later');
    expect(Date.now()).toBeGreaterThanOrEqual(pushedAt + 290);
  });

  it('wakes one blocked reserver per job across two drivers and both get work', async () => {
    const a = driver();
    const b = driver({ keyPrefix: a.keyPrefix });
    const queue = randomQueue();
    const waiting = [a.reserve([queue], { leaseMs: 10_000, waitMs: 5_000 }), b.reserve([queue], { leaseMs: 10_000, waitMs: 5_000 })];
    await sleep(50);
    await a.push([createEnvelope({ name: 'one', queue }), createEnvelope({ name: 'two', queue })]);
    const got = await Promise.all(waiting);
    expect(got.map((r) => r?.envelope?.name).sort()).toEqual(['one', 'two']);
  });

  it('ends a waiting reserve early when its signal aborts', async () => {
    const d = driver();
    const controller = new AbortController();
    const started = Date.now();
    const waiting = d.reserve([randomQueue()], { leaseMs: 1000, waitMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await waiting).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('takes work from the first queue that has some, in the order given', async () => {
    const d = driver();
    const [q1, q2] = [randomQueue(), randomQueue()];
    const waiting = d.reserve([q1, q2], { leaseMs: 10_000, waitMs: 5_000 });
    await sleep(30);
    await d.push([createEnvelope({ name: 'in-q2', queue: q2 })]);
    expect((await waiting)?.queue).toBe(q2);
    await d.push([createEnvelope({ name: 'b', queue: q2 }), createEnvelope({ name: 'a', queue: q1 })]);
    expect((await d.reserve([q1, q2], { leaseMs: 10_000, waitMs: 0 }))?.queue).toBe(q1);
  });
});

describe('poison bodies', () => {
  it('returns an undecodable body as a poison reservation that can be dead-lettered', async () => {
    const d = driver();
    const queue = randomQueue();
    const envelope = createEnvelope({ name: 'a', queue });
    await d.push([envelope]);
    await d.client.hset(queueKeys(d.keyPrefix, queue).jobPrefix + envelope.id, 'b', '{not json');
    const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    expect(r).toBeDefined();
    expect(r!.envelope).toBeUndefined();
    expect(r!.poison!.raw).toBe('{not json');
    expect(r!.poison!.error.name).toBe('PayloadDecodeError');
    await d.deadLetter(r!, failure({ reason: 'poison' }));
    const entry = await d.deadLetters.get(envelope.id);
    expect(entry).toMatchObject({ id: envelope.id, queue, name: undefined, envelope: undefined, raw: '{not json', reason: 'poison' });
    await expect(d.deadLetters.retry(envelope.id)).rejects.toThrow(/cannot be retried/);
    expect(await d.deadLetters.retryAll({ queue })).toBe(0);
    expect(await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 })).toBeUndefined();
  });

  it('treats valid JSON that is not an envelope as poison too', async () => {
    const d = driver();
    const queue = randomQueue();
    const envelope = createEnvelope({ name: 'a', queue });
    await d.push([envelope]);
    await d.client.hset(queueKeys(d.keyPrefix, queue).jobPrefix + envelope.id, 'b', '{"v":99}');
    const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    expect(r!.poison!.error.message).toMatch(/version/);
  });
});

describe('unique keys', () => {
  it('skips a push whose unique key is held by a queued, delayed or reserved job, and frees it on ack', async () => {
    const d = driver();
    const queue = randomQueue();
    const first = createEnvelope({ name: 'a', queue, uniqueKey: 'user-1' });
    const dup = createEnvelope({ name: 'a', queue, uniqueKey: 'user-1' });
    const other = createEnvelope({ name: 'a', queue, uniqueKey: 'user-2' });
    expect(await d.push([first, dup, other])).toEqual({ pushed: [first.id, other.id], skipped: [dup.id] });
    const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    expect(r!.id).toBe(first.id);
    const whileReserved = createEnvelope({ name: 'a', queue, uniqueKey: 'user-1' });
    expect((await d.push([whileReserved])).skipped).toEqual([whileReserved.id]);
    await d.ack(r!);
    const afterAck = createEnvelope({ name: 'a', queue, uniqueKey: 'user-1' });
    expect((await d.push([afterAck])).pushed).toEqual([afterAck.id]);
    const delayedKey = createEnvelope({ name: 'a', queue, uniqueKey: 'user-3', availableAt: Date.now() + 60_000 });
    const delayedDup = createEnvelope({ name: 'a', queue, uniqueKey: 'user-3' });
    await d.push([delayedKey]);
    expect((await d.push([delayedDup])).skipped).toEqual([delayedDup.id]);
  });

  it('frees the unique key on dead-letter and on purge, and keeps it across release', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'a', queue, uniqueKey: 'k' })]);
    const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    await d.release(r!, { delayMs: 0 });
    expect((await d.push([createEnvelope({ name: 'a', queue, uniqueKey: 'k' })])).pushed).toHaveLength(0);
    const again = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    await d.deadLetter(again!, failure());
    expect((await d.push([createEnvelope({ name: 'a', queue, uniqueKey: 'k' })])).pushed).toHaveLength(1);
    expect(await d.purge(queue)).toBe(1);
    expect((await d.push([createEnvelope({ name: 'a', queue, uniqueKey: 'k' })])).pushed).toHaveLength(1);
  });

  it('skips a second push of the same id', async () => {
    const d = driver();
    const queue = randomQueue();
    const envelope = createEnvelope({ name: 'a', queue });
    await d.push([envelope]);
    expect(await d.push([envelope])).toEqual({ pushed: [], skipped: [envelope.id] });
  });
});

describe('dead-letter store', () => {
  it('lists newest first with queue and failedBefore filters and paging; retries, purges and counts', async () => {
    const d = driver();
    const [q1, q2] = [randomQueue(), randomQueue()];
    const base = Date.now() - 10_000;
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const queue = i % 2 === 0 ? q1 : q2;
      const envelope = createEnvelope({ name: `job-${i}`, queue });
      ids.push(envelope.id);
      await d.push([envelope]);
      const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
      await d.deadLetter(r!, failure({ failedAt: base + i * 1000, attempts: 3 }));
    }
    expect(await d.deadLetters.count()).toBe(6);
    expect(await d.deadLetters.count({ queue: q1 })).toBe(3);
    expect(await d.deadLetters.count({ failedBefore: base + 2000 })).toBe(2);
    expect((await d.deadLetters.list()).map((e) => e.id)).toEqual([...ids].reverse());
    expect((await d.deadLetters.list({ limit: 2, offset: 1 })).map((e) => e.id)).toEqual([ids[4], ids[3]]);
    expect((await d.deadLetters.list({ queue: q2 })).map((e) => e.id)).toEqual([ids[5], ids[3], ids[1]]);
    expect((await d.deadLetters.list({ queue: q1, failedBefore: base + 3000 })).map((e) => e.id)).toEqual([ids[2], ids[0]]);
    const entry = await d.deadLetters.get(ids[3]!);
    expect(entry).toMatchObject({ id: ids[3], queue: q2, name: 'job-3', reason: 'failed', attempts: 3, failedAt: base + 3000 });
    expect(entry!.envelope!.name).toBe('job-3');
    expect(await d.deadLetters.get('missing')).toBeUndefined();

    expect(await d.deadLetters.retry(ids[5]!)).toBe(true);
    expect(await d.deadLetters.retry(ids[5]!)).toBe(false);
    const retried = await d.reserve([q2], { leaseMs: 10_000, waitMs: 0 });
    expect(retried!.id).toBe(ids[5]);
    expect(retried!.deliveryCount).toBe(1);
    await d.ack(retried!);

    expect(await d.deadLetters.retryAll({ queue: q1, failedBefore: base + 3000 })).toBe(2);
    expect((await d.stats(q1)).ready).toBe(2);
    expect(await d.deadLetters.purge({ failedBefore: base + 4000 })).toBe(2);
    expect(await d.deadLetters.count()).toBe(1);
    expect(await d.deadLetters.purge()).toBe(1);
    expect(await d.deadLetters.list()).toEqual([]);
  });

  it('keeps newest-first order for failures in the same millisecond', async () => {
    const d = driver();
    const queue = randomQueue();
    const at = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const envelope = createEnvelope({ name: 'a', queue });
      ids.push(envelope.id);
      await d.push([envelope]);
      await d.deadLetter((await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 }))!, failure({ failedAt: at }));
    }
    expect((await d.deadLetters.list({ queue })).map((e) => e.id)).toEqual([...ids].reverse());
  });
});

describe('bulk push', () => {
  it('pushes 2,500 envelopes across two queues in one call, in order', async () => {
    const d = driver();
    const [q1, q2] = [randomQueue(), randomQueue()];
    const envelopes = Array.from({ length: 2500 }, (_, i) => createEnvelope({ name: `n${i}`, queue: i % 5 === 0 ? q2 : q1, payload: i }));
    const result = await d.push(envelopes);
    expect(result.pushed).toEqual(envelopes.map((e) => e.id));
    expect((await d.stats(q1)).ready).toBe(2000);
    expect((await d.stats(q2)).ready).toBe(500);
    const firsts = [await d.reserve([q1], { leaseMs: 1000, waitMs: 0 }), await d.reserve([q1], { leaseMs: 1000, waitMs: 0 })];
    expect(firsts.map((r) => r!.envelope!.payload)).toEqual([1, 2]);
    expect(await d.purge(q1)).toBe(1998);
  });
});

describe('claiming ahead in a reserve/ack loop', () => {
  async function loop(d: RedisDriver, queue: string, cycles: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < cycles; i += 1) {
      const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
      ids.push(r!.id);
      expect(r!.deliveryCount).toBe(1);
      await d.ack(r!);
    }
    return ids;
  }

  it('hands every job over once, in FIFO order, while acks claim the next job ahead', async () => {
    const d = driver();
    const queue = randomQueue();
    const envelopes = Array.from({ length: 30 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i }));
    await d.push(envelopes);
    expect(await loop(d, queue, 30)).toEqual(envelopes.map((e) => e.id));
    expect(await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 })).toBeUndefined();
    expect(await d.stats(queue)).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('gives a job claimed ahead back when no reserve comes, its delivery count unchanged', async () => {
    const d = driver();
    const other = driver({ keyPrefix: d.keyPrefix });
    // Claiming ahead needs the reserve() calls to follow their acks closely; on a busy machine a
    // pause can break the pattern, so the loop is tried a few times until a job is held.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const queue = randomQueue();
      await d.push(Array.from({ length: 12 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
      await loop(d, queue, 8);
      const stats = await d.stats(queue);
      expect(stats.ready + stats.reserved).toBe(4);
      if (stats.reserved === 0) continue;
      await sleep(100);
      expect(await d.stats(queue)).toMatchObject({ ready: 4, reserved: 0 });
      const rest: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const r = await other.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
        expect(r!.deliveryCount).toBe(1);
        rest.push(r!.envelope!.payload as number);
      }
      expect(rest).toEqual([8, 9, 10, 11]);
      return;
    }
    expect.fail('no job was claimed ahead in 5 reserve/ack loops');
  });

  it('close() gives back the jobs claimed ahead', async () => {
    const d = driver();
    const other = driver({ keyPrefix: d.keyPrefix });
    const queue = randomQueue();
    await d.push(Array.from({ length: 10 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
    await loop(d, queue, 6);
    await d.close();
    expect(await other.stats(queue)).toMatchObject({ ready: 4, reserved: 0 });
    expect((await other.reserve([queue], { leaseMs: 10_000, waitMs: 0 }))!.deliveryCount).toBe(1);
  });

  it('sends the acks that arrive while an ack call is out as one call; a lost lease fails only its own ack', async () => {
    const d = driver();
    const raw = new Redis(REDIS_URL);
    try {
      // The batching follows a worker loop (reserve right after ack); on a busy machine a pause can
      // break the pattern, so the scene is tried a few times until the acks went out together.
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const queue = randomQueue();
        await d.push(Array.from({ length: 20 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
        await loop(d, queue, 4);
        const taken = [];
        for (let i = 0; i < 5; i += 1) taken.push((await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 }))!);
        // Another delivery owns the third job now.
        await raw.hset(queueKeys(d.keyPrefix, queue).jobPrefix + taken[2]!.id, 't', 'someone-else');
        const evalsha = d.client.evalsha.bind(d.client);
        let calls = 0;
        (d.client as { evalsha: unknown }).evalsha = (...args: unknown[]) => {
          calls += 1;
          return (evalsha as (...a: unknown[]) => unknown)(...args);
        };
        const settled = await Promise.allSettled(taken.map((r) => d.ack(r)));
        (d.client as { evalsha: unknown }).evalsha = evalsha;
        expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
        const stats = await d.stats(queue);
        // 4 looped + 4 acknowledged; the lost one stays reserved; the rest are ready or held.
        expect(stats.ready + stats.reserved).toBe(12);
        if (calls > 2) continue;
        // The first ack went alone; the four that came while it was out went in one call.
        expect(calls).toBe(2);
        return;
      }
      expect.fail('the acks never went out together in 5 tries');
    } finally {
      raw.disconnect();
    }
  });

  it('keeps a second ack call in flight while many acks queue up, never more; every job comes once', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push(Array.from({ length: 600 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
    const evalsha = d.client.evalsha.bind(d.client);
    let out = 0;
    let mostOut = 0;
    (d.client as { evalsha: unknown }).evalsha = async (...args: unknown[]) => {
      const batch = args[0] === scripts.ackBatch.sha;
      if (batch) mostOut = Math.max(mostOut, ++out);
      try {
        return await (evalsha as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        if (batch) out -= 1;
      }
    };
    // A worker loop with 40 slots: reserve, ack, reserve again, until the queue is empty.
    const seen: string[] = [];
    const counts: number[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        for (;;) {
          const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
          if (r === undefined) return;
          seen.push(r.id);
          counts.push(r.deliveryCount);
          await d.ack(r);
        }
      }),
    );
    (d.client as { evalsha: unknown }).evalsha = evalsha;
    expect(mostOut).toBe(2);
    expect(new Set(seen).size).toBe(600);
    expect(seen).toHaveLength(600);
    expect(counts.every((count) => count === 1)).toBe(true);
    expect(await d.stats(queue)).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('does not claim ahead for a caller that acks without reserving again', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push(Array.from({ length: 5 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
    const held = [];
    for (let i = 0; i < 3; i += 1) held.push(await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 }));
    for (const r of held) await d.ack(r!);
    expect(await d.stats(queue)).toMatchObject({ ready: 2, reserved: 0 });
  });
});

describe('a connection that closes before the reply', () => {
  /**
   * Pipelines CLIENT KILL of the client's own connection and then `call` in one write: Redis
   * answers the kill and closes, and ioredis aborts the command pipelined behind it.
   */
  async function behindOwnKill<T>(raw: Redis, call: () => Promise<T>): Promise<PromiseSettledResult<T>> {
    const id = Number(await raw.client('ID'));
    // Upper case, so ioredis pipelines it (it sends its lower-case `client` command on its own).
    const [, settled] = await Promise.allSettled([raw.call('CLIENT', 'KILL', 'ID', String(id), 'SKIPME', 'no'), call()]);
    return settled;
  }

  it('an ack is sent again on the new connection and acknowledges the job; a plain script call is aborted', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'n', queue, payload: {} }), createEnvelope({ name: 'n', queue, payload: {} })]);
    const keys = queueKeys(d.keyPrefix, queue);
    const ackArgs = async () => {
      const taken = await d.reserve([queue], { leaseMs: 30_000, waitMs: 0 });
      return [keys.jobPrefix + taken!.id, taken!.id, taken!.token];
    };
    const raw = new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: null });
    try {
      const first = await ackArgs();
      const aborted = await behindOwnKill(raw, () => runScript(raw, scripts.ack, [keys.leased, keys.unique], first));
      expect(aborted.status).toBe('rejected');
      expect((aborted as PromiseRejectedResult).reason).toMatchObject({ name: 'AbortError' });
      expect(await raw.exists(first[0]!)).toBe(1);

      const args = await ackArgs();
      const resent = await behindOwnKill(raw, () => runIdempotentScript(raw, scripts.ack, [keys.leased, keys.unique], args));
      expect(resent).toEqual({ status: 'fulfilled', value: 1 });
      expect(await raw.exists(args[0]!)).toBe(0);
      expect(await d.stats(queue)).toMatchObject({ ready: 0, reserved: 1 });
    } finally {
      raw.disconnect();
    }
  });
});
