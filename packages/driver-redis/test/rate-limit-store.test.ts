import { defineJob, InvalidArgumentError, Worker } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisDriver, RedisRateLimitStore } from '../src/index.js';
import { deletePrefix, REDIS_URL, randomPrefix, sleep } from './helpers.js';

const stores: RedisRateLimitStore[] = [];
const prefixes: string[] = [];

function store(keyPrefix: string): RedisRateLimitStore {
  const created = new RedisRateLimitStore({ connection: REDIS_URL, keyPrefix });
  stores.push(created);
  return created;
}

afterEach(async () => {
  await Promise.allSettled(stores.splice(0).map((s) => s.close()));
  await Promise.all(prefixes.splice(0).map(deletePrefix));
});

describe('RedisRateLimitStore', () => {
  it('shares one bucket between two store instances (two connections)', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const [a, b] = [store(prefix), store(prefix)];
    const rule = { limit: 5, intervalMs: 60_000 };
    const decisions = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).take('emails', rule)));
    expect(decisions.filter((d) => d.granted)).toHaveLength(5);
    const denied = decisions.find((d) => !d.granted)!;
    expect(denied.remaining).toBe(0);
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(12_000);
    expect(await a.peek('emails', rule)).toBe(0);
    expect(await b.peek('other', rule)).toBe(5);
  });

  it('refills continuously over time', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const s = store(prefix);
    const rule = { limit: 10, intervalMs: 1_000 };
    // One burst, so the bucket cannot refill (a token per 100 ms) between the takes.
    const burst = await Promise.all(Array.from({ length: 11 }, () => s.take('k', rule)));
    expect(burst.filter((d) => d.granted)).toHaveLength(10);
    const denied = burst.find((d) => !d.granted)!;
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(100);
    await sleep(denied.retryAfterMs + 30);
    expect((await s.take('k', rule)).granted).toBe(true);
  });

  it('takes a cost of several tokens at once, or none', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const s = store(prefix);
    const rule = { limit: 4, intervalMs: 60_000 };
    expect(await s.take('k', rule, 3)).toMatchObject({ granted: true, remaining: 1 });
    expect(await s.take('k', rule, 2)).toMatchObject({ granted: false, remaining: 1 });
    await expect(s.take('k', rule, 0)).rejects.toThrow(InvalidArgumentError);
    await expect(s.take('k', { limit: 0, intervalMs: 1 })).rejects.toThrow(InvalidArgumentError);
  });

  it('holds a named limit across two workers that serve different queues', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const drivers = [
      createRedisDriver({ connection: REDIS_URL, keyPrefix: prefix }),
      createRedisDriver({ connection: REDIS_URL, keyPrefix: prefix }),
    ];
    const starts: { queue: string; at: number }[] = [];
    const call = defineJob('call-stripe', async (_: unknown, ctx) => {
      starts.push({ queue: ctx.queue, at: Date.now() });
    });
    const limits = { 'stripe-api': { limit: 4, intervalMs: 1_000, queues: ['invoices', 'refunds'] } };
    for (const queue of ['invoices', 'refunds']) {
      for (let i = 0; i < 20; i += 1) await call.create({}).onQueue(queue).dispatch(drivers[0]!);
    }
    const workers = ['invoices', 'refunds'].map(
      (queue, i) =>
        new Worker({
          driver: drivers[i]!,
          jobs: [call],
          queues: [queue],
          concurrency: 4,
          waitMs: 100,
          rateLimit: { store: drivers[i]!.createRateLimitStore(), limits },
        }),
    );
    const started = Date.now();
    const runs = workers.map((worker) => worker.run());
    await sleep(2_500);
    await Promise.all(workers.map((worker) => worker.stop({ graceMs: 1_000 })));
    await Promise.all(runs);
    await Promise.all(drivers.map((driver) => driver.close()));
    // One bucket of 4 refilled at 4/s: at most 4 + 10 starts in the first 2.5 s, whichever queue
    // (jobs that waited for a token may start during the stop's grace, on later tokens).
    const inTime = starts.filter((s) => s.at - started < 2_500);
    expect(inTime.length).toBeLessThanOrEqual(14);
    expect(inTime.length).toBeGreaterThanOrEqual(8);
    expect(starts.filter((s) => s.at - started < 500).length).toBeLessThanOrEqual(6);
    expect(new Set(starts.map((s) => s.queue))).toEqual(new Set(['invoices', 'refunds']));
  });
});
