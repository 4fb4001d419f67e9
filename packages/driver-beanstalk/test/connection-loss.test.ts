import { createEnvelope, LeaseLostError } from '@queuekit/core';
import { CuttingProxy } from '@queuekit/driver-contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeanstalkClient, createBeanstalkDriver } from '../src/index.js';
import { expectNothingLeft, OwnBeanstalkd, randomTubePrefix, recordingWorker } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: OwnBeanstalkd;
let proxy: CuttingProxy;

beforeAll(async () => {
  server = await OwnBeanstalkd.start();
  proxy = await CuttingProxy.start(server.port);
});

afterAll(async () => {
  await proxy.close();
  await server.dispose();
});

describe('connections cut mid-run', () => {
  it('a connection that reconnects replays its use tube and watch list before the calls that waited', async () => {
    const client = new BeanstalkClient({ host: '127.0.0.1', port: proxy.port, connectTimeoutMs: 2_000 });
    try {
      await client.use('replay-used');
      await client.watchOnly(['replay-a', 'replay-b']);
      const generation = client.generation;
      proxy.cut();
      await sleep(100);
      // Sent while the connection may still be down: they wait for the reconnect, behind the replay.
      const [used, watched] = await Promise.all([client.listTubeUsed(), client.listTubesWatched()]);
      expect(client.generation).toBeGreaterThan(generation);
      expect(used).toBe('replay-used');
      expect(watched.sort()).toEqual(['replay-a', 'replay-b']);
    } finally {
      client.close();
    }
  });

  it('a reserve waiting when its socket dies fails with DriverConnectionError, and the next reserve reconnects and gets the job', async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: `beanstalk://127.0.0.1:${proxy.port}`, tubePrefix });
    const producer = createBeanstalkDriver({ url: server.url, tubePrefix });
    try {
      const waiting = driver.reserve(['cut'], { leaseMs: 5_000, waitMs: 10_000 });
      const outcome = waiting.then(
        () => 'resolved',
        (error: Error) => error,
      );
      await sleep(200);
      proxy.cut();
      const error = await outcome;
      expect(error).toMatchObject({ name: 'DriverConnectionError', code: 'DRIVER_CONNECTION' });
      expect((error as Error).message).toMatch(/beanstalk: the connection to 127\.0\.0\.1:\d+ was lost/);

      const envelope = createEnvelope({ name: 'cut-job', queue: 'cut', payload: { n: 1 } });
      await producer.push([envelope]);
      const reservation = await driver.reserve(['cut'], { leaseMs: 5_000, waitMs: 2_000 });
      expect(reservation?.id).toBe(envelope.id);
      expect(reservation).toMatchObject({ attempt: 1, lostDeliveries: 0 });
      await driver.ack(reservation!);
      expect(await producer.stats('cut')).toMatchObject({ ready: 0, reserved: 0 });
    } finally {
      await Promise.all([driver.close(), producer.close()]);
    }
  });

  it('a delivery whose connection closed before it ran is refused as lease-lost without running, while the server hands its job out again', async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: `beanstalk://127.0.0.1:${proxy.port}`, tubePrefix });
    const other = createBeanstalkDriver({ url: server.url, tubePrefix });
    try {
      const [kept, cut] = [1, 2].map((n) => createEnvelope({ name: 'held-job', queue: 'held', payload: { n } }));
      await other.push([kept!]);
      const keptReservation = await driver.reserve(['held'], { leaseMs: 10_000, waitMs: 2_000 });
      expect(keptReservation?.id).toBe(kept!.id);
      // A delivery still held on its open connection runs.
      expect(await driver.aroundExecution(keptReservation!, async () => 'ran')).toBe('ran');
      await driver.ack(keptReservation!);

      await other.push([cut!]);
      const reservation = await driver.reserve(['held'], { leaseMs: 10_000, waitMs: 2_000 });
      expect(reservation?.id).toBe(cut!.id);
      proxy.cut();
      // beanstalkd gives the job out again as soon as the reserving connection is gone.
      const again = await other.reserve(['held'], { leaseMs: 10_000, waitMs: 3_000 });
      expect(again?.id).toBe(cut!.id);
      let ran = false;
      const refused = await driver
        .aroundExecution(reservation!, async () => {
          ran = true;
          return 'ran';
        })
        .catch((error: Error) => error);
      expect(ran).toBe(false);
      expect(refused).toBeInstanceOf(LeaseLostError);
      expect((refused as Error).message).toMatch(/beanstalk: run of job .* the lease was lost/);
      await other.ack(again!);
      await expectNothingLeft(other, 'held');
    } finally {
      await Promise.all([driver.close(), other.close()]);
    }
  });

  it('a worker whose connections are all cut three times mid-run reconnects, and every job runs; none is lost or dead-lettered', {
    timeout: 90_000,
  }, async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: `beanstalk://127.0.0.1:${proxy.port}`, tubePrefix });
    const producer = createBeanstalkDriver({ url: server.url, tubePrefix });
    const total = 600;
    const worker = recordingWorker(driver, 'cut-job', 2, 50);
    try {
      const envelopes = Array.from({ length: total }, (_, i) => createEnvelope({ name: 'cut-job', queue: 'work', payload: { i } }));
      await producer.push(envelopes);
      for (const threshold of [total * 0.2, total * 0.45, total * 0.7]) {
        await worker.ranAtLeast(threshold, 20_000);
        expect(worker.ran.size).toBeLessThan(total);
        proxy.cut();
      }
      await worker.ranAtLeast(total, 40_000);
      const diagnosis = `stats ${JSON.stringify(await producer.stats('work'))}; errors: ${worker.errors.slice(0, 3).join(' | ')}`;
      expect(worker.ran.size, diagnosis).toBe(total);
      expect(worker.ran).toEqual(new Set(envelopes.map((e) => e.id)));
      expect(worker.deadLettered).toEqual([]);
      expect(worker.errors.length, 'the cuts surfaced as errors the worker handled').toBeGreaterThan(0);
      await expectNothingLeft(producer, 'work');
    } finally {
      await worker.stop();
      await Promise.all([driver.close(), producer.close()]);
    }
  });
});
