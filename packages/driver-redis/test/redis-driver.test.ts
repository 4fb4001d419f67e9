import { createServer } from 'node:net';
import {
  ConfigError,
  createEnvelope,
  DriverClosedError,
  DriverConnectionError,
  DriverError,
  InvalidArgumentError,
  type JobFailure,
  LeaseLostError,
  PayloadTooLargeError,
  type Reservation,
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

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
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

  it('ping() of a server that refuses connections fails with the refusal as its cause, not after the reconnects', async () => {
    const port = await closedPort();
    const d = driver({ connection: `redis://127.0.0.1:${port}` });
    const error = await d.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverConnectionError);
    expect((error as Error).message).toBe(`redis: ping failed: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    // Asked again while ioredis waits to reconnect, it answers with the same cause.
    await expect(d.ping()).rejects.toThrow(`ECONNREFUSED 127.0.0.1:${port}`);
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

  it('reclaims an expired lease in the claim, counting one lost delivery and no attempt, and fences the old token', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'a', queue })]);
    const first = await d.reserve([queue], { leaseMs: 100, waitMs: 0 });
    expect(first).toMatchObject({ attempt: 1, lostDeliveries: 0 });
    await sleep(150);
    const second = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    expect(second!.id).toBe(first!.id);
    expect(second).toMatchObject({ attempt: 1, lostDeliveries: 1 });
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
    expect(again).toMatchObject({ attempt: 2, lostDeliveries: 0 });
  });

  it('counts a failed run and a lost delivery apart, each from where it was left', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push([createEnvelope({ name: 'a', queue })]);
    const first = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    await d.release(first!, { delayMs: 0 });
    const second = await d.reserve([queue], { leaseMs: 100, waitMs: 0 });
    expect(second).toMatchObject({ attempt: 2, lostDeliveries: 0 });
    await sleep(150);
    const third = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    expect(third).toMatchObject({ attempt: 2, lostDeliveries: 1 });
    await d.release(third!, { delayMs: 0 });
    expect(await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 })).toMatchObject({ attempt: 3, lostDeliveries: 1 });
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
    expect(retried).toMatchObject({ attempt: 1, lostDeliveries: 0 });
    await d.ack(retried!);

    expect(await d.deadLetters.retryAll({ queue: q1, failedBefore: base + 3000 })).toBe(2);
    expect((await d.stats(q1)).ready).toBe(2);
    expect(await d.deadLetters.purge({ failedBefore: base + 4000 })).toBe(2);
    expect(await d.deadLetters.count()).toBe(1);
    expect(await d.deadLetters.purge()).toBe(1);
    expect(await d.deadLetters.list()).toEqual([]);
  });

  it('retries a dead letter as a fresh job: both counts start again', async () => {
    const d = driver();
    const queue = randomQueue();
    const envelope = createEnvelope({ name: 'a', queue });
    await d.push([envelope]);
    await d.reserve([queue], { leaseMs: 50, waitMs: 0 });
    await sleep(100);
    await d.release((await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 }))!, { delayMs: 0 });
    const last = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
    expect(last).toMatchObject({ attempt: 2, lostDeliveries: 1 });
    await d.deadLetter(last!, failure({ attempts: 2 }));
    expect(await d.deadLetters.retry(envelope.id)).toBe(true);
    expect(await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 })).toMatchObject({ id: envelope.id, attempt: 1, lostDeliveries: 0 });
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

describe('batch members', () => {
  /** Counts the script calls `d` sends from now on, by script name; `restore()` stops counting. */
  function countScripts(d: RedisDriver): { readonly calls: Map<string, number>; restore(): void } {
    const names = new Map(Object.values(scripts).map((script) => [script.sha, script.name]));
    const calls = new Map<string, number>();
    const evalsha = d.client.evalsha.bind(d.client);
    (d.client as { evalsha: unknown }).evalsha = (...args: unknown[]) => {
      const name = names.get(args[0] as string) ?? 'other';
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return (evalsha as (...a: unknown[]) => unknown)(...args);
    };
    return { calls, restore: () => ((d.client as { evalsha: unknown }).evalsha = evalsha) };
  }

  /** Makes the lease of `r` another delivery's, as if it had expired and been claimed again. */
  async function stealLease(d: RedisDriver, r: Reservation): Promise<void> {
    await d.client.hset(queueKeys(d.keyPrefix, r.queue).jobPrefix + r.id, 't', 'someone-else');
  }

  it('declares the batch capability and all three members', () => {
    const d = driver();
    expect(d.capabilities.batch).toBe(true);
    expect([typeof d.claim, typeof d.ackAndClaim, typeof d.extendMany]).toEqual(['function', 'function', 'function']);
  });

  it('claim() returns up to max jobs by priority, then FIFO, in one script call', async () => {
    const d = driver();
    const queue = randomQueue();
    const names = ['low-1', 'high-1', 'mid-1', 'high-2', 'low-2', 'mid-2'];
    const priority = { low: 30, mid: 20, high: 10 } as Record<string, number>;
    await d.push(names.map((name) => createEnvelope({ name, queue, priority: priority[name.split('-')[0]!]! })));
    const counter = countScripts(d);
    const first = await d.claim([queue], { leaseMs: 10_000, waitMs: 0, max: 4 });
    counter.restore();
    expect(first.map((r) => r.envelope!.name)).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2']);
    expect(new Set(first.map((r) => r.token)).size).toBe(4);
    expect(first.every((r) => r.attempt === 1 && r.lostDeliveries === 0 && r.queue === queue)).toBe(true);
    expect(counter.calls).toEqual(new Map([['reserve', 1]]));
    const rest = await d.claim([queue], { leaseMs: 10_000, waitMs: 0, max: 10 });
    expect(rest.map((r) => r.envelope!.name)).toEqual(['low-1', 'low-2']);
    expect(await d.claim([queue], { leaseMs: 10_000, waitMs: 0, max: 10 })).toEqual([]);
    expect(await d.stats(queue)).toMatchObject({ ready: 0, reserved: 6 });
  });

  it('claim() takes the queues in the order given until max is reached', async () => {
    const d = driver();
    const [q1, q2, q3] = [randomQueue(), randomQueue(), randomQueue()];
    await d.push([
      ...[0, 1].map((i) => createEnvelope({ name: 'a', queue: q1, payload: i })),
      ...[2, 3, 4].map((i) => createEnvelope({ name: 'a', queue: q2, payload: i })),
      createEnvelope({ name: 'a', queue: q3, payload: 5 }),
    ]);
    const counter = countScripts(d);
    const got = await d.claim([q1, q2, q3], { leaseMs: 10_000, waitMs: 0, max: 4 });
    counter.restore();
    expect(got.map((r) => [r.queue, r.envelope!.payload])).toEqual([
      [q1, 0],
      [q1, 1],
      [q2, 2],
      [q2, 3],
    ]);
    // q3 was not asked: max was reached in q2.
    expect(counter.calls.get('reserve')).toBe(2);
    const more = await d.claim([q3, q2], { leaseMs: 10_000, waitMs: 0, max: 4 });
    expect(more.map((r) => r.envelope!.payload)).toEqual([5, 4]);
  });

  it('a waiting claim() gets up to max of the jobs pushed meanwhile, on one queue and across queues', async () => {
    const d = driver();
    const queue = randomQueue();
    const waiting = d.claim([queue], { leaseMs: 10_000, waitMs: 5_000, max: 3 });
    await sleep(50);
    await d.push(Array.from({ length: 5 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
    expect((await waiting).map((r) => r.envelope!.payload)).toEqual([0, 1, 2]);
    expect(await d.stats(queue)).toMatchObject({ ready: 2, reserved: 3 });

    const [q1, q2] = [randomQueue(), randomQueue()];
    const across = d.claim([q1, q2], { leaseMs: 10_000, waitMs: 5_000, max: 2 });
    await sleep(50);
    await d.push([createEnvelope({ name: 'b', queue: q2 })]);
    expect((await across).map((r) => r.queue)).toEqual([q2]);
    const started = Date.now();
    expect(await d.claim([q1, q2], { leaseMs: 10_000, waitMs: 100, max: 2 })).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('ackAndClaim() acknowledges and claims in one script call; a lost lease is reported only for its own ack', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push(Array.from({ length: 10 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
    const taken = await d.claim([queue], { leaseMs: 10_000, waitMs: 0, max: 4 });
    await stealLease(d, taken[2]!);
    const counter = countScripts(d);
    const result = await d.ackAndClaim(taken, [queue], { leaseMs: 10_000, max: 3 });
    counter.restore();
    expect(counter.calls).toEqual(new Map([['ack-and-claim', 1]]));
    expect(result.leaseLost).toEqual([taken[2]]);
    expect(result.claimed.map((r) => r.envelope!.payload)).toEqual([4, 5, 6]);
    expect(result.claimed.every((r) => r.attempt === 1 && r.lostDeliveries === 0)).toBe(true);
    // 3 acknowledged; the stolen one and the 3 claimed are leased; 3 left.
    expect(await d.stats(queue)).toMatchObject({ ready: 3, reserved: 4 });
    // An ack of a job already gone counts as acknowledged; max 0 claims nothing.
    expect(await d.ackAndClaim([taken[0]!, ...result.claimed], [queue], { leaseMs: 10_000, max: 0 })).toEqual({
      leaseLost: [],
      claimed: [],
    });
    expect(await d.stats(queue)).toMatchObject({ ready: 3, reserved: 1 });
    await expect(d.ack(taken[2]!)).rejects.toThrow(LeaseLostError);
  });

  it('ackAndClaim() sends one call per queue of its acks and claims from the first of its queues', async () => {
    const d = driver();
    const [q1, q2] = [randomQueue(), randomQueue()];
    await d.push([
      ...[0, 1, 2].map((i) => createEnvelope({ name: 'a', queue: q1, payload: i })),
      ...[3, 4, 5].map((i) => createEnvelope({ name: 'a', queue: q2, payload: i })),
    ]);
    const a = await d.claim([q1], { leaseMs: 10_000, waitMs: 0, max: 2 });
    const b = await d.claim([q2], { leaseMs: 10_000, waitMs: 0, max: 2 });
    const counter = countScripts(d);
    const result = await d.ackAndClaim([a[0]!, b[0]!, a[1]!, b[1]!], [q2, q1], { leaseMs: 10_000, max: 5 });
    counter.restore();
    expect(counter.calls).toEqual(new Map([['ack-and-claim', 2]]));
    expect(result.leaseLost).toEqual([]);
    // q2 had one job left; the driver may stop there rather than look at q1 too.
    expect(result.claimed.map((r) => [r.queue, r.envelope!.payload])).toEqual([[q2, 5]]);
    expect(await d.stats(q1)).toMatchObject({ ready: 1, reserved: 0 });
    expect(await d.stats(q2)).toMatchObject({ ready: 0, reserved: 1 });
    // Claiming with no acks is one call too.
    expect((await d.ackAndClaim([], [q1], { leaseMs: 10_000, max: 2 })).claimed.map((r) => r.envelope!.payload)).toEqual([2]);
  });

  it('giveBack() returns jobs to their place in their band with both counts unchanged, skipping lost leases', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push(['a', 'b', 'c'].map((name) => createEnvelope({ name, queue })));
    await d.claim([queue], { leaseMs: 50, waitMs: 0, max: 1 });
    await sleep(100);
    // a: its lease ran out once (lost 1), then a failed run (attempt 2): it goes behind b and c.
    const [lostOnce] = await d.claim([queue], { leaseMs: 10_000, waitMs: 0, max: 1 });
    expect(lostOnce).toMatchObject({ attempt: 1, lostDeliveries: 1 });
    await d.release(lostOnce!, { delayMs: 0 });
    const [b, c, a] = await d.claim([queue], { leaseMs: 10_000, waitMs: 0, max: 3 });
    expect([b, c, a].map((r) => r!.envelope!.name)).toEqual(['b', 'c', 'a']);
    expect(a).toMatchObject({ attempt: 2, lostDeliveries: 1 });
    await d.push([createEnvelope({ name: 'd', queue }), createEnvelope({ name: 'urgent', queue, priority: 1 })]);
    const counter = countScripts(d);
    expect(await d.giveBack([a!, c!, { ...b!, token: 'stale' }])).toBe(2);
    counter.restore();
    expect(counter.calls).toEqual(new Map([['give-back', 1]]));
    expect(await d.stats(queue)).toMatchObject({ ready: 4, reserved: 1 });
    await expect(d.ack(a!)).rejects.toThrow(LeaseLostError);
    const again = await d.claim([queue], { leaseMs: 10_000, waitMs: 0, max: 4 });
    expect(again.map((r) => [r.envelope!.name, r.attempt, r.lostDeliveries])).toEqual([
      ['urgent', 1, 0],
      ['c', 1, 0],
      ['a', 2, 1],
      ['d', 1, 0],
    ]);
    // b was not given back: its stale copy held no lease.
    await d.ack(b!);
    expect(await d.giveBack([])).toBe(0);
  });

  it('extendMany() renews leases of several queues, one call per queue; undefined where the lease was lost', async () => {
    const d = driver();
    const [q1, q2] = [randomQueue(), randomQueue()];
    await d.push([
      createEnvelope({ name: 'a', queue: q1 }),
      createEnvelope({ name: 'b', queue: q1 }),
      createEnvelope({ name: 'c', queue: q2 }),
    ]);
    const [a, b] = await d.claim([q1], { leaseMs: 1_000, waitMs: 0, max: 2 });
    const [c] = await d.claim([q2], { leaseMs: 1_000, waitMs: 0, max: 1 });
    await stealLease(d, b!);
    const before = Date.now();
    const counter = countScripts(d);
    const expiries = await d.extendMany([a!, b!, c!], 60_000);
    counter.restore();
    expect(counter.calls).toEqual(new Map([['extend', 2]]));
    expect(expiries[1]).toBeUndefined();
    for (const at of [expiries[0], expiries[2]]) {
      expect(at).toBeGreaterThanOrEqual(before + 60_000 - 50);
      expect(at).toBeLessThanOrEqual(Date.now() + 60_000 + 50);
    }
    expect(Number(await d.client.zscore(queueKeys(d.keyPrefix, q1).leased, a!.id))).toBe(expiries[0]);
    expect(Number(await d.client.zscore(queueKeys(d.keyPrefix, q1).leased, b!.id))).toBe(b!.leaseExpiresAt);
    await expect(d.extend(b!, 1_000)).rejects.toThrow(LeaseLostError);
    expect(await d.extendMany([], 1_000)).toEqual([]);
  });

  it('reserve() and ack() claim one job each and nothing ahead', async () => {
    const d = driver();
    const queue = randomQueue();
    await d.push(Array.from({ length: 5 }, (_, i) => createEnvelope({ name: 'a', queue, payload: i })));
    const counter = countScripts(d);
    for (let i = 0; i < 3; i += 1) {
      const r = await d.reserve([queue], { leaseMs: 10_000, waitMs: 0 });
      expect(r).toMatchObject({ attempt: 1, lostDeliveries: 0, envelope: { payload: i } });
      await d.ack(r!);
    }
    counter.restore();
    expect(counter.calls).toEqual(
      new Map([
        ['reserve', 3],
        ['ack', 3],
      ]),
    );
    expect(await d.stats(queue)).toMatchObject({ ready: 2, reserved: 0 });
  });

  it('refuses a max below 1 for claim() and below 0 for ackAndClaim()', async () => {
    const d = driver();
    const queue = randomQueue();
    await expect(d.claim([queue], { leaseMs: 1_000, waitMs: 0, max: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(d.ackAndClaim([], [queue], { leaseMs: 1_000, max: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(d.ackAndClaim([], [], { leaseMs: 1_000, max: 1 })).rejects.toThrow(InvalidArgumentError);
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
      // No finished-job record to keep: the retention bounds are passed but unused.
      return [keys.jobPrefix + taken!.id, taken!.id, taken!.token, '', '1000', '60000'];
    };
    const ackKeys = [keys.leased, keys.unique, keys.completedIds, keys.completedInfo, keys.completedOldIndex];
    const raw = new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: null });
    try {
      const first = await ackArgs();
      const aborted = await behindOwnKill(raw, () => runScript(raw, scripts.ack, ackKeys, first));
      expect(aborted.status).toBe('rejected');
      expect((aborted as PromiseRejectedResult).reason).toMatchObject({ name: 'AbortError' });
      expect(await raw.exists(first[0]!)).toBe(1);

      const args = await ackArgs();
      const resent = await behindOwnKill(raw, () => runIdempotentScript(raw, scripts.ack, ackKeys, args));
      expect(resent).toEqual({ status: 'fulfilled', value: 1 });
      expect(await raw.exists(args[0]!)).toBe(0);
      expect(await d.stats(queue)).toMatchObject({ ready: 0, reserved: 1 });
    } finally {
      raw.disconnect();
    }
  });

  it('ackAndClaim() is sent again without its claim: its acks are done and nothing is claimed twice', async () => {
    // A client given to the driver is used as it is: auto-pipelined, so the kill and the script
    // leave in one write.
    const raw = new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: null });
    const d = driver({ connection: raw });
    const queue = randomQueue();
    try {
      await d.push(Array.from({ length: 6 }, (_, i) => createEnvelope({ name: 'n', queue, payload: i })));
      // The first call loads the script, so the one behind the kill runs by its SHA.
      const first = await d.ackAndClaim([], [queue], { leaseMs: 30_000, max: 2 });
      expect(first.claimed).toHaveLength(2);
      const settled = await behindOwnKill(raw, () => d.ackAndClaim(first.claimed, [queue], { leaseMs: 30_000, max: 2 }));
      expect(settled).toEqual({ status: 'fulfilled', value: { leaseLost: [], claimed: [] } });
      const keys = queueKeys(d.keyPrefix, queue);
      expect(await raw.exists(...first.claimed.map((r) => keys.jobPrefix + r.id))).toBe(0);
      expect(await d.stats(queue)).toMatchObject({ ready: 4, reserved: 0 });
    } finally {
      await d.close();
      raw.disconnect();
    }
  });
});
