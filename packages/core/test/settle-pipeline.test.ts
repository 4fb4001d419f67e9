import { afterEach, describe, expect, it } from 'vitest';
import { defineJob, type Reservation, Worker, type WorkerOptions } from '../src/index.js';
import { createMemoryDriver, MemoryStore } from '../src/testing/index.js';
import { until } from './fixtures/wait.js';

const workers: Worker[] = [];
function start(options: WorkerOptions): { worker: Worker; done: Promise<void> } {
  const worker = new Worker({ waitMs: 50, shutdownGraceMs: 1_000, ...options });
  workers.push(worker);
  return { worker, done: worker.run() };
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
});

describe("the Worker's settle pipeline (drivers with capabilities.batch)", () => {
  it('claims for every waiting slot in one call, and acknowledges the jobs finished in one turn in one ackAndClaim call', async () => {
    const driver = createMemoryDriver();
    const claims: number[] = [];
    const ackCalls: number[] = [];
    const claim = driver.claim.bind(driver);
    driver.claim = async (queues, options) => {
      claims.push(options.max);
      return claim(queues, options);
    };
    const ackAndClaim = driver.ackAndClaim.bind(driver);
    driver.ackAndClaim = async (acks, queues, options) => {
      ackCalls.push(acks.length);
      return ackAndClaim(acks, queues, options);
    };
    driver.ack = async () => {
      throw new Error('ack() must not be called one job at a time');
    };
    const noop = defineJob('noop', async () => {});
    for (let i = 0; i < 5; i += 1) await noop.create({}).dispatch(driver);
    const { worker } = start({ driver, jobs: [noop], concurrency: 5, prefetch: 0 });
    let completed = 0;
    worker.on('completed', () => {
      completed += 1;
    });
    await until(() => completed === 5);
    expect(claims[0]).toBe(5);
    expect(ackCalls[0]).toBe(5);
    expect(await driver.stats('default')).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('gives back, uncounted, the jobs it claimed ahead when no slot takes them within a moment', async () => {
    const store = new MemoryStore();
    const driver = createMemoryDriver({ store });
    const given: Reservation[] = [];
    const giveBack = driver.giveBack.bind(driver);
    driver.giveBack = async (reservations) => {
      given.push(...reservations);
      return giveBack(reservations);
    };
    let release!: () => void;
    const holding = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started: string[] = [];
    const slow = defineJob('slow', async (_p: {}, ctx) => {
      started.push(ctx.id);
      await holding;
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const job = slow.create({});
      ids.push(job.id);
      await job.dispatch(driver);
    }
    start({ driver, jobs: [slow], concurrency: 1, prefetch: 8 });
    await until(() => given.length === 2);
    expect(started).toEqual([ids[0]]);
    expect(given.map((r) => r.id)).toEqual(ids.slice(1));
    // Another worker finds them as if never claimed: first in line, attempt 1, no lost delivery.
    const other = createMemoryDriver({ store });
    const next = await other.reserve(['default'], { leaseMs: 1_000, waitMs: 0 });
    expect(next).toMatchObject({ id: ids[1], attempt: 1, lostDeliveries: 0 });
    release();
  });

  it('gives back every job it holds when the worker stops', async () => {
    const driver = createMemoryDriver();
    let release!: () => void;
    const holding = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = defineJob('slow', async () => holding);
    for (let i = 0; i < 6; i += 1) await slow.create({}).dispatch(driver);
    const { worker, done } = start({ driver, jobs: [slow], concurrency: 2, prefetch: 32 });
    await until(async () => (await driver.stats('default')).reserved === 6);
    const stopping = worker.stop();
    release();
    await stopping;
    await done;
    expect(await driver.stats('default')).toMatchObject({ ready: 4, reserved: 0 });
    const again = await driver.claim(['default'], { leaseMs: 1_000, waitMs: 0, max: 10 });
    expect(again).toHaveLength(4);
    for (const reservation of again) expect(reservation).toMatchObject({ attempt: 1, lostDeliveries: 0 });
  });
});
