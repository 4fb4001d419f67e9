import { createEnvelope, defineJob, type Reservation, Worker } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BeanstalkClient, type BeanstalkDriver, createBeanstalkDriver, parseBeanstalkUrl } from '../src/index.js';
import { BEANSTALK_URL, OwnBeanstalkd, randomTubePrefix } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A protocol client of the test's own, as another tool on the server would have. */
function rawClient(url: string): BeanstalkClient {
  const { host, port } = parseBeanstalkUrl(url);
  return new BeanstalkClient({ host, port, connectTimeoutMs: 2_000 });
}

/** The `pause` a tube shows in `stats-tube` (seconds of its native pause; 0 when not paused or gone). */
async function nativePause(client: BeanstalkClient, tube: string): Promise<number> {
  return Number((await client.statsTube(tube))?.get('pause') ?? 0);
}

describe('pause and resume on beanstalkd: the marker outlives the native pause-tube', () => {
  const opened: { close(): unknown }[] = [];
  const driver = (url = BEANSTALK_URL, tubePrefix = randomTubePrefix()): BeanstalkDriver => {
    const made = createBeanstalkDriver({ url, tubePrefix });
    opened.push(made);
    return made;
  };
  const raw = (url = BEANSTALK_URL): BeanstalkClient => {
    const made = rawClient(url);
    opened.push(made);
    return made;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((o) => o.close()));
  });

  it('when the native pause ends without a resume, the next claim hands the job back unrun and pauses the tube again', async () => {
    const tubePrefix = randomTubePrefix();
    const producer = driver(BEANSTALK_URL, tubePrefix);
    const consumer = driver(BEANSTALK_URL, tubePrefix);
    const tool = raw();
    await producer.pause('held');
    const envelope = createEnvelope({ name: 'held-job', queue: 'held' });
    await producer.push([envelope]);
    expect(await nativePause(tool, `${tubePrefix}held`)).toBeGreaterThan(0);
    // As if the pause-tube had run out (or been ended by another tool): the marker is still there.
    expect(await tool.pauseTube(`${tubePrefix}held`, 0)).toBe(true);
    await sleep(50);
    expect(await nativePause(tool, `${tubePrefix}held`)).toBe(0);
    expect(await consumer.reserve(['held'], { leaseMs: 30_000, waitMs: 1_000 })).toBeUndefined();
    expect(await consumer.claim(['held'], { leaseMs: 30_000, waitMs: 0, max: 5 })).toEqual([]);
    expect(await nativePause(tool, `${tubePrefix}held`)).toBeGreaterThan(0);
    expect(await consumer.stats('held')).toMatchObject({ ready: 1, reserved: 0, dead: 0, paused: true });
    await producer.resume('held');
    const reservation = (await consumer.reserve(['held'], { leaseMs: 30_000, waitMs: 2_000 })) as Reservation;
    // Handed back as never claimed: neither a run nor a lost delivery was counted.
    expect(reservation).toMatchObject({ id: envelope.id, attempt: 1, lostDeliveries: 0 });
    await consumer.ack(reservation);
  });

  it('a pause holds when beanstalkd drops the empty tube it was set on, and is seen by a driver made after the pausing one closed', async () => {
    const tubePrefix = randomTubePrefix();
    const pausing = driver(BEANSTALK_URL, tubePrefix);
    const tool = raw();
    await pausing.pause('quiet');
    await pausing.close();
    // Nothing uses, watches or fills the tube now: beanstalkd frees it, and its pause with it.
    expect(await tool.listTubes()).not.toContain(`${tubePrefix}quiet`);
    const later = driver(BEANSTALK_URL, tubePrefix);
    const envelope = createEnvelope({ name: 'quiet-job', queue: 'quiet' });
    await later.push([envelope]);
    expect(await later.stats('quiet')).toMatchObject({ ready: 1, paused: true });
    expect(await later.reserve(['quiet'], { leaseMs: 30_000, waitMs: 500 })).toBeUndefined();
    await later.resume('quiet');
    expect(await later.stats('quiet')).toMatchObject({ paused: false });
    const reservation = (await later.reserve(['quiet'], { leaseMs: 30_000, waitMs: 2_000 })) as Reservation;
    expect(reservation).toMatchObject({ id: envelope.id, attempt: 1, lostDeliveries: 0 });
    await later.ack(reservation);
  });

  it('a Worker on a paused queue runs nothing, even when the native pause runs out under it; after resume every job runs once', async () => {
    const tubePrefix = randomTubePrefix();
    const control = driver(BEANSTALK_URL, tubePrefix);
    const workerDriver = driver(BEANSTALK_URL, tubePrefix);
    const tool = raw();
    const runs: { id: string; attempt: number }[] = [];
    const job = defineJob('paused-work', async (_payload: { i: number }, ctx) => {
      runs.push({ id: ctx.id, attempt: ctx.attempt });
    });
    await control.pause('work');
    const envelopes = Array.from({ length: 20 }, (_, i) => createEnvelope({ name: 'paused-work', queue: 'work', payload: { i } }));
    await control.push(envelopes);
    const worker = new Worker({ driver: workerDriver, jobs: [job], queues: ['work'], concurrency: 8, waitMs: 300 });
    const running = worker.run();
    try {
      await sleep(300);
      await tool.pauseTube(`${tubePrefix}work`, 0);
      await sleep(700);
      expect(runs).toEqual([]);
      expect(await control.stats('work')).toMatchObject({ ready: 20, reserved: 0, paused: true });
      await control.resume('work');
      const deadline = Date.now() + 10_000;
      while (runs.length < 20 && Date.now() < deadline) await sleep(20);
      expect(runs.map((r) => r.id).sort()).toEqual(envelopes.map((e) => e.id).sort());
      expect(runs.every((r) => r.attempt === 1)).toBe(true);
    } finally {
      await worker.stop();
      await running;
    }
  });

  it('stats() shows a pause-tube set by another tool as paused, and resume() ends it', async () => {
    const tubePrefix = randomTubePrefix();
    const queuekit = driver(BEANSTALK_URL, tubePrefix);
    const tool = raw();
    await queuekit.push([createEnvelope({ name: 'tool-paused', queue: 'other-tool' })]);
    expect(await tool.pauseTube(`${tubePrefix}other-tool`, 600)).toBe(true);
    expect(await queuekit.stats('other-tool')).toMatchObject({ ready: 1, paused: true });
    expect(await queuekit.reserve(['other-tool'], { leaseMs: 30_000, waitMs: 0 })).toBeUndefined();
    await queuekit.resume('other-tool');
    expect(await queuekit.stats('other-tool')).toMatchObject({ paused: false });
    await queuekit.ack((await queuekit.reserve(['other-tool'], { leaseMs: 30_000, waitMs: 2_000 })) as Reservation);
  });

  it('pause() and resume() refuse a queue name beanstalkd cannot take, naming it', async () => {
    const queuekit = driver();
    await expect(queuekit.pause('no spaces')).rejects.toThrow(/invalid queue name "no spaces"/);
    await expect(queuekit.resume('queuekit.dead-letters')).rejects.toThrow(/reserved/);
  });
});

describe('pause across a beanstalkd restart', () => {
  it('with a binlog (-b), a queue paused before the server was killed stays paused after it is back (pause-tube itself is forgotten)', {
    timeout: 30_000,
  }, async () => {
    const server = await OwnBeanstalkd.start({ binlog: true });
    const tubePrefix = randomTubePrefix();
    const queuekit = createBeanstalkDriver({ url: server.url, tubePrefix });
    const tool = rawClient(server.url);
    try {
      await queuekit.pause('kept');
      const envelope = createEnvelope({ name: 'kept-job', queue: 'kept' });
      await queuekit.push([envelope]);
      await server.stop('SIGKILL');
      await server.restart();
      expect(await nativePause(tool, `${tubePrefix}kept`)).toBe(0);
      await waitForServer(queuekit);
      expect(await queuekit.stats('kept')).toMatchObject({ ready: 1, paused: true });
      expect(await queuekit.reserve(['kept'], { leaseMs: 30_000, waitMs: 1_000 })).toBeUndefined();
      expect(await nativePause(tool, `${tubePrefix}kept`)).toBeGreaterThan(0);
      await queuekit.resume('kept');
      const reservation = (await queuekit.reserve(['kept'], { leaseMs: 30_000, waitMs: 2_000 })) as Reservation;
      expect(reservation).toMatchObject({ id: envelope.id, attempt: 1, lostDeliveries: 0 });
      await queuekit.ack(reservation);
    } finally {
      tool.close();
      await queuekit.close();
      await server.dispose();
    }
  });
});

/** Retries a ping until the driver's connections are back after a restart (bounded). */
async function waitForServer(driver: BeanstalkDriver): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await driver.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}
