import { createEnvelope, type QueueDriver } from '@queuekit/core';
import { encodeFinishedJob } from '@queuekit/core/driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectOverview } from '../src/index.js';
import { retainedRates } from '../src/retained-rates.js';
import { BACKENDS, type BackendFixture, deadLetter } from './support/backends.js';

// Throughput, waits and run times read back from the completed-job records real backends keep.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Pushes, claims and acknowledges one job of `queue` with a record of the given times (epoch ms). */
async function completed(driver: QueueDriver, queue: string, times: { availableAt: number; startedAt: number; finishedAt: number }) {
  const envelope = createEnvelope({ name: 'report', queue, payload: { n: 1 } });
  await driver.push([envelope]);
  const reservation = await driver.reserve([queue], { leaseMs: 30_000, waitMs: 1_000 });
  if (reservation?.id !== envelope.id) throw new Error(`expected to claim ${envelope.id}`);
  const record = encodeFinishedJob({
    id: envelope.id,
    queue,
    name: 'report',
    state: 'completed',
    attempts: 1,
    createdAt: times.availableAt - 1_000,
    ...times,
  });
  await driver.ack(reservation, { record });
}

describe.each(['postgres', 'redis', 'sqlite'] as const)('rates from retained records on %s', (backend) => {
  let fixture: BackendFixture;
  let driver: QueueDriver;
  const now = Date.now();
  const firstStart = now - (now % MINUTE) - 59 * MINUTE;
  const bucketOf = (at: number) => Math.floor((at - firstStart) / MINUTE);

  beforeAll(async () => {
    fixture = BACKENDS[backend]();
    driver = await fixture.manager.connection();
    expect(driver.capabilities.retention).toBe(true);
    // Oldest first, as workers finish them: one from before the hour, then three inside it.
    await completed(driver, 'reports', { availableAt: now - 2 * HOUR - 500, startedAt: now - 2 * HOUR, finishedAt: now - 2 * HOUR + 10 });
    await completed(driver, 'reports', {
      availableAt: now - 40 * MINUTE,
      startedAt: now - 40 * MINUTE + 100,
      finishedAt: now - 40 * MINUTE + 150,
    });
    await completed(driver, 'reports', { availableAt: now - 90_000, startedAt: now - 90_000 + 300, finishedAt: now - 90_000 + 320 });
    await completed(driver, 'reports', { availableAt: now - 20_000, startedAt: now - 20_000 + 200, finishedAt: now - 20_000 + 240 });
  });
  afterAll(() => fixture?.cleanup());

  it('counts completions per minute and the wait and run percentiles of the last hour only', async () => {
    const rates = await retainedRates(driver, 'reports', { now });
    expect(rates.source).toBe('retained');
    expect(rates.completed).toBe(3);
    expect(rates.completedPerBucket).toHaveLength(60);
    expect(rates.completedPerBucket.reduce((a, b) => a + b, 0)).toBe(3);
    expect(rates.completedPerBucket[bucketOf(now - 40 * MINUTE + 150)]).toBe(1);
    expect(rates.completedPerBucket[bucketOf(now - 20_000 + 240)]).toBeGreaterThanOrEqual(1);
    expect([rates.waitP50Ms, rates.waitP95Ms]).toEqual([200, 300]);
    expect([rates.runP50Ms, rates.runP95Ms]).toEqual([40, 50]);
    // A record from before the hour was read: the numbers cover the whole window.
    expect(rates.since).toBe(firstStart);
    expect(rates.failed).toBe(0);
  });

  it('says from when the numbers count when the records read do not reach back an hour', async () => {
    const bounded = await retainedRates(driver, 'reports', { now, maxRecords: 2 });
    expect(bounded.completed).toBe(2);
    expect(bounded.since).toBe(now - 90_000 + 320);
    const empty = await retainedRates(driver, 'no-such-queue-kept', { now });
    expect(empty.completed).toBe(0);
    expect(empty.since).toBe(now);
    expect(empty.waitP50Ms).toBeNull();
  });

  it('counts the jobs dead-lettered in the hour as failures, and the overview uses the records without a recorder', async () => {
    await deadLetter(driver, 'reports', 'report', { name: 'Error', message: 'boom' });
    const rates = await retainedRates(driver, 'reports', { now: Date.now() });
    expect(rates.failed).toBe(1);
    const model = await collectOverview({ manager: fixture.manager, queues: ['reports'] });
    expect(model.rates?.main?.reports).toMatchObject({ source: 'retained', completed: 3, failed: 1 });
  });
});
