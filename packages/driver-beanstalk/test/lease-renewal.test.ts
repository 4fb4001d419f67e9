import { createEnvelope } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { BeanstalkClient, createBeanstalkDriver } from '../src/index.js';
import { BEANSTALK_URL, randomTubePrefix } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Long beside the test, so the driver's own keeper (which touches only in a TTR's last 1.5 s) stays out of it. */
const TTR_SECONDS = 10;

describe("a worker's lease renewal on beanstalkd", () => {
  it.each(['extend', 'extendMany'] as const)(
    '%s() touches the job at once: the server deadline moves to a full TTR from the call',
    { timeout: 20_000 },
    async (method) => {
      const tubePrefix = randomTubePrefix();
      const url = new URL(BEANSTALK_URL);
      const driver = createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix, ttrSeconds: TTR_SECONDS });
      const admin = new BeanstalkClient({ host: url.hostname, port: Number(url.port), connectTimeoutMs: 2_000 });
      try {
        await driver.push([createEnvelope({ name: 'renewed', queue: 'work' })]);
        await admin.use(`${tubePrefix}work`);
        const ready = await admin.peekReady();
        expect(ready).toBeDefined();
        const [reservation] = await driver.claim(['work'], { leaseMs: TTR_SECONDS * 1_000, waitMs: 0, max: 1 });
        // The server reserved the job at the latest now: untouched, its deadline is no later than a TTR from here.
        const claimedAt = Date.now();
        expect(reservation).toBeDefined();
        await sleep(1_500);
        if (method === 'extend') await driver.extend(reservation!, TTR_SECONDS * 1_000);
        else expect(typeof (await driver.extendMany([reservation!], TTR_SECONDS * 1_000))[0]).toBe('number');
        const askedAt = Date.now();
        const stats = await admin.statsJob((ready as { id: number }).id);
        expect(stats?.state).toBe('reserved');
        // time-left is whole seconds rounded down, so asking time + time-left is at or before the
        // server's deadline; only a touch after the claim can put that past a TTR from the claim.
        const timeLeftMs = Number(stats?.timeLeftSeconds) * 1_000;
        expect(askedAt + timeLeftMs).toBeGreaterThan(claimedAt + TTR_SECONDS * 1_000);
        await driver.ack(reservation!);
      } finally {
        admin.close();
        await driver.close();
      }
    },
  );
});
