import { createEnvelope, type Reservation } from '@queuekit/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisDriver, type RedisDriver } from '../src/index.js';
import { deletePrefix, REDIS_URL, randomPrefix, randomQueue, sleep } from './helpers.js';

const keyPrefix = randomPrefix();
afterAll(() => deletePrefix(keyPrefix));

/** Kills (CLIENT KILL ID) every connection named `name`; resolves how many. Others' connections are left alone. */
async function killConnections(admin: Redis, name: string): Promise<number> {
  const list = String(await admin.client('LIST'));
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `) || line.includes(` name=${name}:wait `))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  for (const id of ids) await admin.client('KILL', 'ID', id);
  return ids.length;
}

describe('connection loss', () => {
  it('claim/ackAndClaim loops whose connections are killed mid-run reconnect and every job is acknowledged', {
    timeout: 60_000,
  }, async () => {
    const connectionName = `qkt-loss-${randomPrefix()}`;
    const driver = createRedisDriver({ connection: REDIS_URL, keyPrefix, connectionName });
    const producer = createRedisDriver({ connection: REDIS_URL, keyPrefix });
    const admin = new Redis(REDIS_URL);
    const queue = randomQueue();
    const total = 2_000;
    const completed = new Set<string>();
    const errors: string[] = [];
    let stop = false;
    // A short lease, so a claim whose reply died with its connection comes back quickly (counted
    // as a lost delivery of its job).
    const leaseMs = 1_500;
    const loop = async (consumer: RedisDriver): Promise<void> => {
      let held: readonly Reservation[] = [];
      while (!stop) {
        try {
          if (held.length === 0) {
            held = await consumer.claim([queue], { leaseMs, waitMs: 500, max: 8 });
            continue;
          }
          await sleep(1);
          const result = await consumer.ackAndClaim(held, [queue], { leaseMs, max: 8 });
          for (const r of held) if (!result.leaseLost.includes(r)) completed.add(r.id);
          held = result.claimed;
        } catch (error) {
          // The acks may or may not have run: they are sent again with the next call (acking a
          // job already gone is a no-op; one whose lease ran out meanwhile comes back).
          errors.push((error as Error).message);
          await sleep(50);
        }
      }
    };
    const running = Array.from({ length: 8 }, () => loop(driver));
    try {
      const envelopes = Array.from({ length: total }, (_, i) => createEnvelope({ name: 'loss-job', queue, payload: { i } }));
      await producer.push(envelopes);
      let kills = 0;
      for (const threshold of [total * 0.25, total * 0.6]) {
        const deadline = Date.now() + 20_000;
        while (completed.size < threshold && Date.now() < deadline) await sleep(5);
        expect(completed.size).toBeLessThan(total);
        kills += await killConnections(admin, connectionName);
      }
      expect(kills).toBeGreaterThanOrEqual(2);
      const deadline = Date.now() + 40_000;
      while (completed.size < total && Date.now() < deadline) await sleep(20);
      const diagnosis = `stats ${JSON.stringify(await producer.stats(queue))}; first errors: ${errors.slice(0, 3).join(' | ')}`;
      expect(completed.size, diagnosis).toBe(total);
      expect(new Set(envelopes.map((e) => e.id))).toEqual(completed);
      expect(await producer.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
    } finally {
      stop = true;
      await Promise.all(running);
      await Promise.all([driver.close(), producer.close()]);
      admin.disconnect();
    }
  });
});
