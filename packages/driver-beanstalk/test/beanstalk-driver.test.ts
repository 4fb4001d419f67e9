import { createEnvelope, type JobFailure } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeanstalkClient, createBeanstalkDriver, parseBeanstalkUrl } from '../src/index.js';
import { BEANSTALK_URL, freePort, OwnBeanstalkd, randomTubePrefix } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function failure(failedAt: number): JobFailure {
  return { reason: 'failed', error: { name: 'Error', message: 'boom' }, attempts: 1, firstFailedAt: failedAt, failedAt };
}

describe('a job above the size limit', () => {
  let small: OwnBeanstalkd;
  beforeAll(async () => {
    small = await OwnBeanstalkd.start({ maxJobBytes: 1_024 });
  });
  afterAll(() => small.dispose());

  it('is refused before it is sent, naming the server limit (beanstalkd -z 1024) it is above', async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: small.url, tubePrefix });
    try {
      const fits = createEnvelope({ name: 'big', queue: 'sizes', payload: { blob: 'x'.repeat(100) } });
      const big = createEnvelope({ name: 'big', queue: 'sizes', payload: { blob: 'x'.repeat(2_000) } });
      const error = await driver.push([fits, big]).catch((e: Error) => e);
      expect(error).toMatchObject({ name: 'PayloadTooLargeError', code: 'PAYLOAD_TOO_LARGE' });
      expect((error as Error).message).toContain(`job ${big.id}`);
      expect((error as Error).message).toMatch(/above the 1024-byte limit \(the server's max-job-size, beanstalkd -z\); nothing was sent/);
      expect(await driver.stats('sizes')).toMatchObject({ ready: 0 });
      await driver.push([fits]);
      expect(await driver.stats('sizes')).toMatchObject({ ready: 1 });
    } finally {
      await driver.close();
    }
  });

  it("the server's own JOB_TOO_BIG reply (from a client that did not check) is a PayloadTooLargeError", async () => {
    const client = new BeanstalkClient({ host: '127.0.0.1', port: small.port, connectTimeoutMs: 2_000 });
    try {
      await expect(client.put(0, 0, 1, Buffer.alloc(2_000, 'x'))).rejects.toMatchObject({
        name: 'PayloadTooLargeError',
        message: expect.stringContaining('JOB_TOO_BIG'),
      });
      // The connection goes on after the error reply.
      expect(await client.put(0, 0, 1, Buffer.from('ok'))).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });
});

describe('errors from the server and the network', () => {
  it('a push to a draining server (SIGUSR1) fails with a DriverError naming DRAINING', async () => {
    const server = await OwnBeanstalkd.start();
    const driver = createBeanstalkDriver({ url: server.url });
    try {
      await driver.ping();
      await server.signal('SIGUSR1');
      await sleep(100);
      await expect(driver.push([createEnvelope({ name: 'j', queue: 'drain' })])).rejects.toMatchObject({
        name: 'DriverError',
        message: expect.stringContaining('DRAINING'),
      });
    } finally {
      await driver.close();
      await server.dispose();
    }
  });

  it('a server that is not listening fails every call at once with DriverConnectionError and its cause (ECONNREFUSED)', async () => {
    const port = await freePort();
    const driver = createBeanstalkDriver({ url: `beanstalk://127.0.0.1:${port}` });
    try {
      const started = Date.now();
      const error = await driver.push([createEnvelope({ name: 'j', queue: 'nowhere' })]).catch((e: Error) => e);
      expect(error).toMatchObject({ name: 'DriverConnectionError', code: 'DRIVER_CONNECTION' });
      expect((error as Error).message).toContain(`cannot connect to 127.0.0.1:${port}`);
      expect((error as Error).message).toContain('ECONNREFUSED');
      expect(Date.now() - started).toBeLessThan(2_000);
      await expect(driver.ping()).rejects.toMatchObject({ name: 'DriverConnectionError' });
      await expect(driver.reserve(['nowhere'], { leaseMs: 1_000, waitMs: 0 })).rejects.toMatchObject({ name: 'DriverConnectionError' });
    } finally {
      await driver.close();
    }
  });

  it('bad options are refused with a ConfigError naming the option', () => {
    expect(() => createBeanstalkDriver({ url: 'redis://127.0.0.1:6379' })).toThrow(/beanstalk: url: expected the scheme beanstalk:\/\//);
    expect(() => createBeanstalkDriver({ url: 'not a url' })).toThrow(/beanstalk: url: not a URL/);
    expect(() => createBeanstalkDriver({ url: 'beanstalk://host:11300/tube' })).toThrow(/unexpected path/);
    expect(() => createBeanstalkDriver({ ttrSeconds: 0 })).toThrow(/beanstalk: ttrSeconds: expected an integer 1\.\.86400, got 0/);
    expect(() => createBeanstalkDriver({ tubePrefix: '-x' })).toThrow(/beanstalk: tubePrefix/);
    expect(() => createBeanstalkDriver({ maxJobBytes: 1.5 })).toThrow(/beanstalk: maxJobBytes/);
    expect(parseBeanstalkUrl('beanstalk://example.org')).toEqual({ host: 'example.org', port: 11_300 });
  });
});

describe('mapping onto beanstalkd', () => {
  it('queue order holds across tubes even when a later queue has a more urgent job', async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix });
    try {
      const relaxed = createEnvelope({ name: 'j', queue: 'first', priority: 1_000 });
      const urgent = createEnvelope({ name: 'j', queue: 'second', priority: 0 });
      await driver.push([urgent, relaxed]);
      const a = await driver.reserve(['first', 'second'], { leaseMs: 5_000, waitMs: 0 });
      const b = await driver.reserve(['first', 'second'], { leaseMs: 5_000, waitMs: 0 });
      expect([a?.id, b?.id]).toEqual([relaxed.id, urgent.id]);
      await Promise.all([driver.ack(a!), driver.ack(b!)]);
    } finally {
      await driver.close();
    }
  });

  it("a queue name with ':' lives in a tube with ';' and comes back under its own name", async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix });
    const client = new BeanstalkClient({ host: '127.0.0.1', port: Number(new URL(BEANSTALK_URL).port), connectTimeoutMs: 2_000 });
    try {
      const envelope = createEnvelope({ name: 'j', queue: 'mail:high' });
      await driver.push([envelope]);
      expect(await client.statsTube(`${tubePrefix}mail;high`)).toBeDefined();
      const reservation = await driver.reserve(['mail:high'], { leaseMs: 5_000, waitMs: 0 });
      expect(reservation).toMatchObject({ id: envelope.id, queue: 'mail:high' });
      await driver.ack(reservation!);
      await expect(
        Promise.resolve().then(() => driver.push([createEnvelope({ name: 'j', queue: 'queuekit.dead-letters' })])),
      ).rejects.toMatchObject({
        name: 'InvalidArgumentError',
      });
    } finally {
      client.close();
      await driver.close();
    }
  });

  it('a waiting reserve whose signal aborts hands a job that arrives later back unrun, uncounted', async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix });
    try {
      const controller = new AbortController();
      const waiting = driver.reserve(['late'], { leaseMs: 5_000, waitMs: 3_000, signal: controller.signal });
      await sleep(100);
      controller.abort();
      expect(await waiting).toBeUndefined();
      // The server still answers the abandoned reserve: the job it brings goes back untouched.
      const envelope = createEnvelope({ name: 'j', queue: 'late' });
      await driver.push([envelope]);
      await sleep(300);
      const reservation = await driver.reserve(['late'], { leaseMs: 5_000, waitMs: 2_000 });
      expect(reservation).toMatchObject({ id: envelope.id, attempt: 1, lostDeliveries: 0 });
      await driver.ack(reservation!);
    } finally {
      await driver.close();
    }
  });

  it('two dead-letter scans at once each see every record', async () => {
    const tubePrefix = randomTubePrefix();
    const driver = createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix });
    const other = createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix });
    try {
      const envelopes = Array.from({ length: 30 }, (_, i) => createEnvelope({ name: 'j', queue: 'dead', payload: { i } }));
      await driver.push(envelopes);
      const base = Date.now();
      for (let i = 0; i < envelopes.length; i += 1) {
        const reservation = await driver.reserve(['dead'], { leaseMs: 5_000, waitMs: 0 });
        await driver.deadLetter(reservation!, failure(base + i));
      }
      const counts = await Promise.all([
        ...Array.from({ length: 4 }, () => driver.deadLetters.count({ queue: 'dead' })),
        ...Array.from({ length: 4 }, () => other.deadLetters.count({ queue: 'dead' })),
      ]);
      expect(counts).toEqual(Array(8).fill(30));
      expect(await driver.stats('dead')).toMatchObject({ dead: 30 });
      expect(await driver.deadLetters.purge({ queue: 'dead' })).toBe(30);
    } finally {
      await Promise.all([driver.close(), other.close()]);
    }
  });
});

describe('claims answered in time', () => {
  let own: OwnBeanstalkd;
  beforeAll(async () => {
    own = await OwnBeanstalkd.start();
  });
  afterAll(() => own.dispose());

  it('send no touch: an answer read well within the TTR cannot be stale (one with a 1 s TTR is proved by a touch)', async () => {
    const admin = new BeanstalkClient({ host: '127.0.0.1', port: own.port, connectTimeoutMs: 2_000 });
    const touches = async () => Number((await admin.stats()).get('cmd-touch'));
    for (const [ttrSeconds, touched] of [
      [30, 0],
      [1, 5],
    ] as const) {
      const driver = createBeanstalkDriver({ url: own.url, tubePrefix: randomTubePrefix(), ttrSeconds });
      try {
        await driver.push(Array.from({ length: 5 }, () => createEnvelope({ name: 'quick', queue: 'fresh' })));
        const before = await touches();
        const claimed = await (driver.claim as NonNullable<typeof driver.claim>)(['fresh'], { leaseMs: 30_000, waitMs: 0, max: 5 });
        expect(claimed).toHaveLength(5);
        expect((await touches()) - before).toBe(touched);
        for (const reservation of claimed) await driver.ack(reservation);
      } finally {
        await driver.close();
      }
    }
    admin.close();
  });
});
