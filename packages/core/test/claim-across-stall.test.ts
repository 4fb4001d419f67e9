import { afterEach, describe, expect, it } from 'vitest';
import { defineJob, type Reservation, Worker } from '../src/index.js';
import { createMemoryDriver, type MemoryDriver, MemoryStore } from '../src/testing/index.js';
import { until } from './fixtures/wait.js';

/** Holds the event loop for `ms` of wall time, as a paused process or a long GC would. */
function standStill(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: no timer, no I/O callback runs meanwhile
  }
}

const LEASE_MS = 600;
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
});

/**
 * A store whose clock the test moves on, and a driver whose claim is answered by the store, then
 * stands still (the answer waits in a socket while the process is paused), then lets `meanwhile`
 * act before the Worker reads the answer.
 */
function stalledClaims(batch: boolean, meanwhile: (claimed: readonly Reservation[]) => Promise<void>) {
  let offsetMs = 0;
  const store = new MemoryStore({ now: () => Date.now() + offsetMs });
  const driver = createMemoryDriver({ store, batch });
  const checked: (number | 'cancelled' | undefined)[] = [];
  let claims = 0;
  let stalled = false;
  const once = async (claimed: readonly Reservation[]): Promise<void> => {
    claims += 1;
    if (stalled || claimed.length === 0) return;
    stalled = true;
    standStill(LEASE_MS);
    await meanwhile(claimed);
  };
  if (batch) {
    const claim = driver.claim.bind(driver);
    driver.claim = async (queues, options) => {
      const claimed = await claim(queues, options);
      await once(claimed);
      return claimed;
    };
    const extendMany = driver.extendMany.bind(driver);
    driver.extendMany = async (reservations, leaseMs) => {
      const result = await extendMany(reservations, leaseMs);
      checked.push(...result);
      return result;
    };
  } else {
    const reserve = driver.reserve.bind(driver);
    driver.reserve = async (queues, options) => {
      const reservation = await reserve(queues, options);
      await once(reservation === undefined ? [] : [reservation]);
      return reservation;
    };
  }
  const extend = driver.extend.bind(driver);
  driver.extend = async (reservation, leaseMs) => {
    try {
      const expiresAt = await extend(reservation, leaseMs);
      checked.push(expiresAt);
      return expiresAt;
    } catch (error) {
      checked.push(undefined);
      throw error;
    }
  };
  return {
    store,
    driver,
    checked,
    claims: () => claims,
    /** Moves the store's clock past every lease handed out so far. */
    expireLeases: () => {
      offsetMs += LEASE_MS + 100;
    },
  };
}

function startWorker(driver: MemoryDriver, started: string[]): Worker {
  const job = defineJob('record', async (_payload: {}, ctx) => {
    started.push(ctx.id);
  });
  const worker = new Worker({ driver, jobs: [job], leaseMs: LEASE_MS, waitMs: 50, prefetch: 0, shutdownGraceMs: 1_000 });
  workers.push(worker);
  void worker.run();
  return worker;
}

describe.each([
  { batch: true, how: 'claim()' },
  { batch: false, how: 'reserve()' },
])('a Worker whose event loop stood still while a $how was out', ({ batch }) => {
  it('does not start a claimed job whose lease ran out and was taken by another worker meanwhile', async () => {
    const taken: Reservation[] = [];
    const fixture = stalledClaims(batch, async () => {
      fixture.expireLeases();
      const other = createMemoryDriver({ store: fixture.store });
      const reservation = await other.reserve(['default'], { leaseMs: 60_000, waitMs: 0 });
      if (reservation !== undefined) taken.push(reservation);
    });
    const job = defineJob('record', async () => {});
    const id = (await job.create({}).dispatch(fixture.driver)).id;
    const started: string[] = [];
    startWorker(fixture.driver, started);
    // The check said the lease was lost, and the worker went on claiming without running the job.
    await until(() => fixture.checked.length === 1 && fixture.claims() >= 3);
    expect(taken.map((reservation) => reservation.id)).toEqual([id]);
    expect(fixture.checked).toEqual([undefined]);
    expect(started).toEqual([]);
    // The other worker's lease is untouched: it alone settles the job.
    const other = createMemoryDriver({ store: fixture.store });
    await other.ack(taken[0]!);
    expect(await fixture.driver.stats('default')).toMatchObject({ ready: 0, reserved: 0 });
  });

  it('starts a claimed job whose lease held across the stall, renewed by the check', async () => {
    const fixture = stalledClaims(batch, async () => {});
    const job = defineJob('record', async () => {});
    const id = (await job.create({}).dispatch(fixture.driver)).id;
    const started: string[] = [];
    startWorker(fixture.driver, started);
    await until(() => started.length === 1);
    expect(started).toEqual([id]);
    expect(fixture.checked.length).toBeGreaterThanOrEqual(1);
    expect(typeof fixture.checked[0]).toBe('number');
    await until(async () => (await fixture.driver.stats('default')).reserved === 0);
  });
});

describe('a Worker whose event loop did not stand still', () => {
  it('starts claimed jobs without a renewal call first', async () => {
    const driver = createMemoryDriver();
    let renewals = 0;
    const extendMany = driver.extendMany.bind(driver);
    driver.extendMany = async (reservations, leaseMs) => {
      renewals += 1;
      return extendMany(reservations, leaseMs);
    };
    const started: string[] = [];
    const job = defineJob('record', async (_payload: {}, ctx) => {
      started.push(ctx.id);
    });
    for (let i = 0; i < 3; i += 1) await job.create({}).dispatch(driver);
    // A lease of a minute: only a stall of 20 s would call for a check.
    const worker = new Worker({ driver, jobs: [job], leaseMs: 60_000, waitMs: 50, concurrency: 3 });
    workers.push(worker);
    void worker.run();
    await until(() => started.length === 3);
    expect(renewals).toBe(0);
  });
});
