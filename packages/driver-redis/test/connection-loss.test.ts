import { createEnvelope, defineJob, Worker } from '@queuekit/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisDriver } from '../src/index.js';
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
  it('a worker whose connections are killed mid-run reconnects and every job completes', { timeout: 60_000 }, async () => {
    const connectionName = `qkt-loss-${randomPrefix()}`;
    const driver = createRedisDriver({ connection: REDIS_URL, keyPrefix, connectionName });
    const producer = createRedisDriver({ connection: REDIS_URL, keyPrefix });
    const admin = new Redis(REDIS_URL);
    const queue = randomQueue();
    const total = 2_000;
    const completed = new Set<string>();
    const errors: string[] = [];
    const job = defineJob('loss-job', async () => {
      await sleep(1);
    });
    // A short lease, so a claim whose reply died with its connection comes back quickly.
    const worker = new Worker({ driver, jobs: [job], queues: [queue], concurrency: 8, leaseMs: 1_500, waitMs: 500, errorBackoffMs: 50 });
    worker.on('completed', (event) => completed.add(event.id));
    worker.on('error', ({ error }) => errors.push(error.message));
    const running = worker.run();
    try {
      // A delivery whose reply died with its connection counts as a delivery (like a crashed
      // worker's), so the jobs allow a few.
      const envelopes = Array.from({ length: total }, (_, i) =>
        createEnvelope({ name: 'loss-job', queue, payload: { i }, maxAttempts: 5 }),
      );
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
      await worker.stop({ graceMs: 2_000 });
      await running;
      await Promise.all([driver.close(), producer.close()]);
      admin.disconnect();
    }
  });
});
