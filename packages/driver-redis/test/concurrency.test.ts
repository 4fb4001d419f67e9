import { createEnvelope, type Reservation } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisDriver, type RedisDriver } from '../src/index.js';
import { deletePrefix, REDIS_URL, randomPrefix, randomQueue } from './helpers.js';

const keyPrefix = randomPrefix();
afterAll(() => deletePrefix(keyPrefix));

describe('concurrent consumers', () => {
  it('32 claim/ackAndClaim loops on 8 connections take each of 10,000 jobs exactly once', { timeout: 60_000 }, async () => {
    const queue = randomQueue();
    const total = 10_000;
    const drivers: RedisDriver[] = Array.from({ length: 8 }, () => createRedisDriver({ connection: REDIS_URL, keyPrefix }));
    const runs = new Map<string, number>();
    const holders = new Set<string>();
    const perDriver = drivers.map(() => 0);
    let overlaps = 0;
    let leaseLost = 0;
    let recounted = 0;
    const take = (r: Reservation, index: number): void => {
      if (holders.has(r.id)) overlaps += 1;
      holders.add(r.id);
      runs.set(r.id, (runs.get(r.id) ?? 0) + 1);
      if (r.attempt !== 1 || r.lostDeliveries !== 0) recounted += 1;
      perDriver[index]! += 1;
    };
    // A worker loop as the core Worker runs one: claim a few, then acknowledge them while claiming
    // the next few in the same call; a loop ends when a claim waits 300 ms for nothing.
    const loop = async (driver: RedisDriver, index: number): Promise<void> => {
      let held: readonly Reservation[] = await driver.claim([queue], { leaseMs: 30_000, waitMs: 5_000, max: 8 });
      while (held.length > 0) {
        for (const r of held) take(r, index);
        await Promise.resolve();
        for (const r of held) holders.delete(r.id);
        const result = await driver.ackAndClaim(held, [queue], { leaseMs: 30_000, max: 8 });
        leaseLost += result.leaseLost.length;
        held = result.claimed.length > 0 ? result.claimed : await driver.claim([queue], { leaseMs: 30_000, waitMs: 300, max: 8 });
      }
    };
    try {
      const running = drivers.flatMap((driver, index) => Array.from({ length: 4 }, () => loop(driver, index)));
      const envelopes = Array.from({ length: total }, (_, i) => createEnvelope({ name: 'count', queue, payload: { i } }));
      expect((await drivers[0]!.push(envelopes)).pushed).toHaveLength(total);
      await Promise.all(running);
      expect(runs.size).toBe(total);
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
      expect({ overlaps, leaseLost, recounted }).toEqual({ overlaps: 0, leaseLost: 0, recounted: 0 });
      expect(perDriver.every((count) => count > 0)).toBe(true);
      expect(await drivers[0]!.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
    } finally {
      await Promise.all(drivers.map((driver) => driver.close()));
    }
  });
});
