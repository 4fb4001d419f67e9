import { randomUUID } from 'node:crypto';
import {
  type CoordinationStore,
  defineJob,
  type QueueDriver,
  type ScheduleDefinition,
  type ScheduleLedgerEntry,
  Scheduler,
} from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { sleep } from '../helpers.js';
import type { OptionalMembers } from './coordination.js';

const tickJob = defineJob('contract-schedule-tick', async (_payload: { tickAt: number }) => undefined);

/** The tick of every job in `queue`, taking them all. */
async function drainTicks(driver: QueueDriver, queue: string): Promise<number[]> {
  const ticks: number[] = [];
  for (;;) {
    const r = await driver.reserve([queue], { leaseMs: 5_000, waitMs: 0 });
    if (r === undefined) return ticks;
    ticks.push((r.envelope?.payload as { tickAt: number } | undefined)?.tickAt ?? Number.NaN);
    await driver.ack(r);
  }
}

function ledgerOf(driver: QueueDriver): CoordinationStore {
  const store = driver.createCoordinationStore?.();
  if (store === undefined) throw new Error('createCoordinationStore() returned nothing');
  return store;
}

/**
 * A ledger whose reads lag one call behind (each scheduleEntry() answers what the previous call
 * read), as a scheduler that read the ledger and then stalled sees it; counts the ticks offered.
 * Such a scheduler offers ticks already fired, and only recordTick()'s compare-and-set refuses them.
 */
class StaleLedger implements CoordinationStore {
  offered = 0;
  readonly #store: CoordinationStore;
  readonly #previous = new Map<string, ScheduleLedgerEntry | undefined>();

  constructor(store: CoordinationStore) {
    this.#store = store;
  }

  now = () => this.#store.now();
  increment = (key: string, windowMs: number) => this.#store.increment(key, windowMs);
  acquire = (key: string, owner: string, ttlMs: number) => this.#store.acquire(key, owner, ttlMs);
  release = (key: string, owner: string) => this.#store.release(key, owner);
  remainingMs = (key: string) => this.#store.remainingMs(key);
  delete = (key: string) => this.#store.delete(key);
  recordManualRun = (schedule: string, jobId: string) => this.#store.recordManualRun(schedule, jobId);

  scheduleEntry = async (schedule: string) => {
    const live = await this.#store.scheduleEntry(schedule);
    const answer = this.#previous.has(schedule) ? this.#previous.get(schedule) : live;
    this.#previous.set(schedule, live);
    return answer;
  };

  recordTick = (schedule: string, tickAt: number, jobId: string) => {
    this.offered += 1;
    return this.#store.recordTick(schedule, tickAt, jobId);
  };
}

/** Waits until the backend clock is early in a second, so that a test on a per-second cron is not cut by a tick. */
async function earlyInSecond(store: CoordinationStore): Promise<number> {
  for (;;) {
    const now = await store.now();
    if (now % 1_000 < 300) return now;
    await sleep(1_000 - (now % 1_000) + 20);
  }
}

/** The schedule ledger kept in the coordination store, and the Scheduler over it: each tick fires once. */
export function describeScheduleLedger(f: ContractFixture, members: OptionalMembers): void {
  describe.skipIf(!members.coordination || f.capabilities.inline)('schedule ledger (member: createCoordinationStore)', () => {
    it('recordTick() is a compare-and-set shared by two drivers: one of many offers of a tick wins, older ticks lose', async () => {
      const schedule = `contract-${randomUUID()}`;
      const a = ledgerOf(f.driver());
      const b = ledgerOf(await f.openDriver());
      expect(await a.scheduleEntry(schedule)).toBeUndefined();
      const tick = 1_767_225_600_000;
      const offers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).recordTick(schedule, tick, `job-${i}`)));
      expect(offers.filter(Boolean)).toHaveLength(1);
      expect(await b.recordTick(schedule, tick - 1_000, 'late')).toBe(false);
      const entry = await b.scheduleEntry(schedule);
      expect(entry?.lastTickAt).toBe(tick);
      expect(entry?.lastTickJobId).toBe(`job-${offers.indexOf(true)}`);
      expect(Math.abs((entry?.lastTickRecordedAt ?? 0) - (await a.now()))).toBeLessThan(5_000);
      expect(await a.recordTick(schedule, tick + 1_000, 'next')).toBe(true);
      expect((await b.scheduleEntry(schedule))?.lastTickJobId).toBe('next');
    });

    it('recordManualRun() keeps the last run apart from the tick sequence', async () => {
      const schedule = `contract-${randomUUID()}`;
      const store = ledgerOf(f.driver());
      await store.recordManualRun(schedule, 'manual-1');
      const first = await store.scheduleEntry(schedule);
      expect(first).toMatchObject({ lastTickAt: undefined, lastTickJobId: undefined, lastRunJobId: 'manual-1' });
      expect(await store.recordTick(schedule, 5_000, 'tick-job')).toBe(true);
      await store.recordManualRun(schedule, 'manual-2');
      expect(await store.scheduleEntry(schedule)).toMatchObject({ lastTickAt: 5_000, lastTickJobId: 'tick-job', lastRunJobId: 'manual-2' });
      expect((await store.scheduleEntry(schedule))?.lastRunAt).toBeGreaterThanOrEqual(first?.lastRunAt ?? Number.POSITIVE_INFINITY);
    });

    it('two schedulers with clocks 3 s apart and a stalled event loop fire each of 30 per-second ticks once', {
      timeout: 55_000,
    }, async () => {
      const queue = f.queue();
      const schedule: ScheduleDefinition = {
        name: `contract-${randomUUID()}`,
        cron: '* * * * * *',
        missed: { catchUp: 5 },
        job: (tickAt) => tickJob.create({ tickAt }).onQueue(queue),
      };
      const other = await f.openDriver();
      const ledger = ledgerOf(f.driver());
      const startedAt = await earlyInSecond(ledger);
      const onTime = new Scheduler({
        driver: f.driver(),
        schedules: [schedule],
        retryMs: 200,
        onFire: () => {
          fired.onTime += 1;
        },
      });
      const stale = new StaleLedger(ledgerOf(other));
      const fired = { onTime: 0, behind: 0 };
      // The skewed scheduler also reads the ledger late, so that it offers ticks already fired.
      const behind = new Scheduler({
        driver: other,
        ledger: stale,
        onFire: () => {
          fired.behind += 1;
        },
        schedules: [schedule],
        retryMs: 200,
        now: () => Date.now() - 3_000,
      });
      onTime.start();
      behind.start();
      try {
        await sleep(10_000);
        // Blocks the event loop for 2.5 s: both schedulers wake late, together, for the same ticks.
        const stallUntil = Date.now() + 2_500;
        while (Date.now() < stallUntil) {
          /* stalled on purpose */
        }
        await sleep(30_500 - (Date.now() - startedAt));
      } finally {
        await Promise.all([onTime.stop(), behind.stop()]);
      }
      const stoppedAt = await ledger.now();
      const ticks = (await drainTicks(f.driver(), queue)).sort((x, y) => x - y);
      expect(new Set(ticks).size).toBe(ticks.length);
      const first = Math.ceil((startedAt + 1) / 1_000) * 1_000;
      const expected: number[] = [];
      for (let tick = first; tick <= stoppedAt - 1_000; tick += 1_000) expected.push(tick);
      expect(expected.length).toBeGreaterThanOrEqual(28);
      expect(ticks.slice(0, expected.length)).toEqual(expected);
      for (const tick of ticks) expect(tick).toBeLessThanOrEqual(stoppedAt);
      // Both took part, and the skewed one's offers of ticks already fired were refused.
      expect(fired.onTime + fired.behind).toBe(ticks.length);
      expect(stale.offered - fired.behind).toBeGreaterThanOrEqual(10);
    });

    it('a scheduler back after 5 missed ticks with catchUp: 2 fires exactly 2 of them, then the due tick', {
      timeout: 20_000,
    }, async () => {
      const queue = f.queue();
      const schedule: ScheduleDefinition = {
        name: `contract-${randomUUID()}`,
        cron: '* * * * * *',
        missed: { catchUp: 2 },
        job: (tickAt) => tickJob.create({ tickAt }).onQueue(queue),
      };
      const ledger = ledgerOf(f.driver());
      const now = await earlyInSecond(ledger);
      const due = Math.floor(now / 1_000) * 1_000;
      // The last scheduler fired the tick 6 s ago and went down: the 5 ticks after it were missed.
      const last = due - 6_000;
      expect(await ledger.recordTick(schedule.name, last, 'before-the-outage')).toBe(true);
      const scheduler = new Scheduler({ driver: await f.openDriver(), schedules: [schedule], retryMs: 200 });
      scheduler.start();
      try {
        await waitForTick(ledger, schedule.name, due);
      } finally {
        await scheduler.stop();
      }
      const ticks = (await drainTicks(f.driver(), queue)).sort((x, y) => x - y);
      expect(ticks.filter((tick) => tick > last && tick < due)).toEqual([due - 2_000, due - 1_000]);
      expect(ticks).toContain(due);
    });

    it.skipIf(!f.capabilities.lookup)(
      "overlap 'skip' fires no tick while the previous tick's job waits (capability: lookup)",
      { timeout: 20_000 },
      async () => {
        const queue = f.queue();
        const schedule: ScheduleDefinition = {
          name: `contract-${randomUUID()}`,
          cron: '* * * * * *',
          overlap: 'skip',
          job: (tickAt) => tickJob.create({ tickAt }).onQueue(queue),
        };
        const ledger = ledgerOf(f.driver());
        const fired: number[] = [];
        const scheduler = new Scheduler({
          driver: f.driver(),
          schedules: [schedule],
          retryMs: 200,
          onFire: ({ tickAt }) => fired.push(tickAt),
        });
        const startedAt = await ledger.now();
        scheduler.start();
        try {
          // Three ticks after the first: the first tick's job is still waiting (no worker runs).
          await waitForTick(ledger, schedule.name, Math.ceil((startedAt + 1) / 1_000) * 1_000 + 3_000);
        } finally {
          await scheduler.stop();
        }
        expect(fired).toHaveLength(1);
        const entry = await ledger.scheduleEntry(schedule.name);
        const job = await f.driver().reserve([queue], { leaseMs: 5_000, waitMs: 0 });
        expect(job?.id).toBe(entry?.lastTickJobId);
        expect((job?.envelope?.payload as { tickAt: number } | undefined)?.tickAt).toBe(fired[0]);
        expect(await f.driver().reserve([queue], { leaseMs: 5_000, waitMs: 0 })).toBeUndefined();
      },
    );
  });
}

/** Waits until the ledger holds `tick` for `schedule` (stop() then waits for its push). */
async function waitForTick(ledger: CoordinationStore, schedule: string, tick: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (((await ledger.scheduleEntry(schedule))?.lastTickAt ?? 0) < tick) {
    if (Date.now() > deadline) throw new Error(`schedule ${schedule}: tick ${tick} was not fired within 10 s`);
    await sleep(50);
  }
}
