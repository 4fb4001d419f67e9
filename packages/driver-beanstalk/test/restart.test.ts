import { createEnvelope } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { createBeanstalkDriver } from '../src/index.js';
import { expectNothingLeft, OwnBeanstalkd, randomTubePrefix, recordingWorker } from './helpers.js';

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
    const worker = recordingWorker(driver, 'restart-job', 5, 100);
    try {
      const envelopes = Array.from({ length: total }, (_, i) => createEnvelope({ name: 'restart-job', queue: 'work', payload: { i } }));
      await producer.push(envelopes);
      await worker.ranAtLeast(total * 0.3, 30_000);
      expect(worker.ran.size).toBeLessThan(total);
      await server.stop('SIGKILL');
      const atKill = worker.ran.size;
      await sleep(500);
      await server.restart();
      await worker.ranAtLeast(total, 60_000);
      expect(worker.ran.size, `ran ${atKill} before the kill; stats now ${JSON.stringify(await producer.stats('work'))}`).toBe(total);
      expect(worker.ran).toEqual(new Set(envelopes.map((e) => e.id)));
      expect(worker.deadLettered).toEqual([]);
      await expectNothingLeft(producer, 'work');
    } finally {
      await worker.stop();
      await Promise.all([driver.close(), producer.close()]);
      await server.dispose();
    }
  });
});
