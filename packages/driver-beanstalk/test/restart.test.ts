import { createEnvelope, defineJob, Worker } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { createBeanstalkDriver } from '../src/index.js';
import { OwnBeanstalkd, randomTubePrefix } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('beanstalkd restarted under load', () => {
  it('with a binlog (-b), a server killed with SIGKILL mid-run and started again loses no job: every one runs', {
    timeout: 120_000,
  }, async () => {
    const server = await OwnBeanstalkd.start({ binlog: true });
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: server.url, tubePrefix });
    const producer = createBeanstalkDriver({ url: server.url, tubePrefix });
    const total = 500;
    const completed = new Set<string>();
    const deadLettered: string[] = [];
    // Jobs whose handler ran (an ack lost with the server may have been applied or not).
    const job = defineJob('restart-job', async (_payload: unknown, ctx) => {
      await sleep(5);
      completed.add(ctx.id);
    });
    const worker = new Worker({ driver, jobs: [job], queues: ['work'], concurrency: 8, errorBackoffMs: 100 });
    worker.on('dead-lettered', (event) => deadLettered.push(`${event.id} ${event.reason}`));
    const running = worker.run();
    try {
      const envelopes = Array.from({ length: total }, (_, i) => createEnvelope({ name: 'restart-job', queue: 'work', payload: { i } }));
      await producer.push(envelopes);
      const deadline = Date.now() + 30_000;
      while (completed.size < total * 0.3 && Date.now() < deadline) await sleep(5);
      expect(completed.size).toBeLessThan(total);
      await server.stop('SIGKILL');
      const atKill = completed.size;
      await sleep(500);
      await server.restart();
      const after = Date.now() + 60_000;
      while (completed.size < total && Date.now() < after) await sleep(20);
      expect(completed.size, `completed ${atKill} before the kill; stats now ${JSON.stringify(await producer.stats('work'))}`).toBe(total);
      expect(completed).toEqual(new Set(envelopes.map((e) => e.id)));
      expect(deadLettered).toEqual([]);
      // The last acks may still be on their way; then nothing is left.
      const settled = Date.now() + 10_000;
      while (Date.now() < settled && (await producer.stats('work')).reserved > 0) await sleep(20);
      expect(await producer.stats('work')).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
    } finally {
      await worker.stop({ graceMs: 1_000 });
      await running;
      await Promise.all([driver.close(), producer.close()]);
      await server.dispose();
    }
  });
});
