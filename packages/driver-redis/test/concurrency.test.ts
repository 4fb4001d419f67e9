import { createEnvelope, defineJob, Worker } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisDriver, type RedisDriver } from '../src/index.js';
import { deletePrefix, REDIS_URL, randomPrefix, randomQueue, sleep } from './helpers.js';

const keyPrefix = randomPrefix();
afterAll(() => deletePrefix(keyPrefix));

describe('concurrent workers', () => {
  it('8 workers on 8 connections complete each of 10,000 jobs exactly once', { timeout: 60_000 }, async () => {
    const queue = randomQueue();
    const total = 10_000;
    const drivers: RedisDriver[] = Array.from({ length: 8 }, () => createRedisDriver({ connection: REDIS_URL, keyPrefix }));
    const runs = new Map<string, number>();
    const holders = new Set<string>();
    let overlaps = 0;
    const job = defineJob('count', async (_payload: unknown, ctx) => {
      if (holders.has(ctx.id)) overlaps += 1;
      holders.add(ctx.id);
      runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
      await Promise.resolve();
      holders.delete(ctx.id);
    });
    const workers = drivers.map(
      (driver) => new Worker({ driver, jobs: [job], queues: [queue], concurrency: 4, leaseMs: 30_000, waitMs: 200 }),
    );
    let completed = 0;
    for (const worker of workers) worker.on('completed', () => (completed += 1));
    const running = workers.map((worker) => worker.run());
    try {
      const envelopes = Array.from({ length: total }, (_, i) => createEnvelope({ name: 'count', queue, payload: { i } }));
      const pushed = await drivers[0]!.push(envelopes);
      expect(pushed.pushed).toHaveLength(total);
      const deadline = Date.now() + 45_000;
      while (completed < total && Date.now() < deadline) await sleep(20);
      await sleep(100);
      expect(completed).toBe(total);
      expect(runs.size).toBe(total);
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
      expect(overlaps).toBe(0);
      expect(workers.every((worker) => worker.processed > 0)).toBe(true);
      expect(await drivers[0]!.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
    } finally {
      await Promise.all(workers.map((worker) => worker.stop({ graceMs: 2_000 })));
      await Promise.all(running);
      await Promise.all(drivers.map((driver) => driver.close()));
    }
  });
});
