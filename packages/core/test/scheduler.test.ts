import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, defineJob, planTicks, runScheduleNow, type ScheduleDefinition, Scheduler, scheduleStatuses } from '../src/index.js';
import { createMemoryDriver, type MemoryDriver, MemoryStore } from '../src/testing/index.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Scheduler', () => {
  const report = defineJob('report', async (_p: { tickAt: number }) => undefined);

  it('computes the next tick in the given time zone', () => {
    const after = Date.UTC(2026, 0, 15, 12, 0, 0);
    expect(Scheduler.nextTick({ name: 'n', cron: '0 3 * * *' }, after)).toBe(Date.UTC(2026, 0, 16, 3, 0, 0));
    // 03:00 in Paris in January is 02:00 UTC.
    expect(Scheduler.nextTick({ name: 'n', cron: '0 3 * * *', timezone: 'Europe/Paris' }, after)).toBe(Date.UTC(2026, 0, 16, 2, 0, 0));
  });

  it('computes the previous tick in the given time zone', () => {
    const before = Date.UTC(2026, 0, 15, 12, 0, 0);
    expect(Scheduler.previousTick({ name: 'p', cron: '0 3 * * *' }, before)).toBe(Date.UTC(2026, 0, 15, 3, 0, 0));
    expect(Scheduler.previousTick({ name: 'p', cron: '0 3 * * *', timezone: 'Europe/Paris' }, before)).toBe(Date.UTC(2026, 0, 15, 2, 0, 0));
    expect(() => Scheduler.previousTick({ name: 'z', cron: 'never', timezone: 'UTC' }, before)).toThrowError(/schedule "z": invalid cron/);
  });

  it('rejects a bad expression or zone naming the schedule', () => {
    const driver = createMemoryDriver();
    expect(
      () => new Scheduler({ driver, schedules: [{ name: 'broken', cron: 'not cron', job: () => report.create({ tickAt: 0 }) }] }),
    ).toThrowError(/schedule "broken": invalid cron/);
    expect(() => Scheduler.nextTick({ name: 'z', cron: '* * * * *', timezone: 'Mars/Olympus' }, 0)).toThrowError(ConfigError);
  });

  it('three scheduler processes enqueue each tick once between them', async () => {
    const store = new MemoryStore();
    const schedule = { name: 'every-second', cron: '* * * * * *', job: (tickAt: number) => report.create({ tickAt }) };
    const schedulers = [0, 1, 2].map(() => new Scheduler({ driver: createMemoryDriver({ store }), schedules: [schedule] }));
    for (const scheduler of schedulers) scheduler.start();
    await sleep(2_300);
    await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
    const driver = createMemoryDriver({ store });
    const ticks: number[] = [];
    for (;;) {
      const r = await driver.reserve(['default'], { leaseMs: 1_000, waitMs: 1_200 });
      if (r === undefined) break;
      ticks.push((r.envelope?.payload as { tickAt: number } | undefined)?.tickAt ?? -1);
      await driver.ack(r);
    }
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(new Set(ticks).size).toBe(ticks.length);
    for (const tick of ticks) expect(tick % 1_000).toBe(0);
  });

  it('plans the latest due tick on time, and at most catchUp missed ticks before it, oldest first', () => {
    const every = (missed?: ScheduleDefinition['missed']): ScheduleDefinition => ({
      name: 'p',
      cron: '* * * * * *',
      job: () => report.create({ tickAt: 0 }),
      ...(missed === undefined ? {} : { missed }),
    });
    const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);
    // Last fired t0, now t0 + 6.2 s: ticks 1..5 s were missed, 6 s is on time.
    expect(planTicks(every(), t0 + 6_200, t0)).toEqual({ fire: [t0 + 6_000], skipped: true });
    expect(planTicks(every({ catchUp: 2 }), t0 + 6_200, t0)).toEqual({ fire: [t0 + 4_000, t0 + 5_000, t0 + 6_000], skipped: true });
    expect(planTicks(every({ catchUp: 9 }), t0 + 3_000, t0).fire).toEqual([t0 + 1_000, t0 + 2_000, t0 + 3_000]);
    // Nothing due yet, and a tick is never offered twice.
    expect(planTicks(every(), t0 + 999, t0).fire).toEqual([]);
    // A tick found later than the grace period is missed.
    expect(planTicks({ ...every(), graceMs: 100, cron: '0 * * * *' }, t0 + 60_000, t0 - 3_600_000).fire).toEqual([]);
  });

  it("refuses overlap 'skip' on a driver without job lookups, and bad policies, naming the schedule", () => {
    const driver = createMemoryDriver();
    const job = () => report.create({ tickAt: 0 });
    const blind = Object.assign(Object.create(driver) as MemoryDriver, { capabilities: { ...driver.capabilities, lookup: false } });
    expect(() => new Scheduler({ driver: blind, schedules: [{ name: 'nightly', cron: '0 3 * * *', overlap: 'skip', job }] })).toThrowError(
      /schedule "nightly": overlap 'skip' needs job lookups/,
    );
    expect(() => new Scheduler({ driver, schedules: [{ name: 'n', cron: '0 3 * * *', missed: { catchUp: 0 }, job }] })).toThrowError(
      /schedule "n": missed must be 'skip' or \{ catchUp: n \}/,
    );
  });

  describe('on a simulated clock', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Every job in the queue: the tick each was pushed for. */
    async function drainTicks(driver: MemoryDriver): Promise<number[]> {
      const ticks: number[] = [];
      for (;;) {
        const r = await driver.reserve(['default'], { leaseMs: 1_000, waitMs: 0 });
        if (r === undefined) return ticks;
        ticks.push((r.envelope?.payload as { tickAt: number } | undefined)?.tickAt ?? -1);
        await driver.ack(r);
      }
    }

    it('two schedulers with clocks 3 s apart and a stalled event loop fire each of 30 ticks once', async () => {
      vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 0, 0, 0, 400) });
      const store = new MemoryStore({ now: () => Date.now() });
      const schedule: ScheduleDefinition = {
        name: 'each-second',
        cron: '* * * * * *',
        missed: { catchUp: 5 },
        job: (tickAt) => report.create({ tickAt }),
      };
      const onTime = new Scheduler({ driver: createMemoryDriver({ store }), schedules: [schedule] });
      const behind = new Scheduler({ driver: createMemoryDriver({ store }), schedules: [schedule], now: () => Date.now() - 3_000 });
      const start = Date.now();
      onTime.start();
      behind.start();
      await vi.advanceTimersByTimeAsync(10_000);
      // The event loop stalls for 2.5 s: the clock moves, no timer runs, then both wake at once.
      vi.setSystemTime(Date.now() + 2_500);
      await vi.advanceTimersByTimeAsync(30_100 - 12_500);
      await onTime.stop();
      await behind.stop();
      const ticks = (await drainTicks(createMemoryDriver({ store }))).sort((a, b) => a - b);
      const expected = Array.from({ length: 30 }, (_, i) => start - 400 + (i + 1) * 1_000);
      expect(ticks).toEqual(expected);
    });

    it('with missed: skip a stall fires the latest due tick and none twice', async () => {
      vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 0, 0, 0, 400) });
      const store = new MemoryStore({ now: () => Date.now() });
      const schedule: ScheduleDefinition = { name: 'skipper', cron: '* * * * * *', job: (tickAt) => report.create({ tickAt }) };
      const scheduler = new Scheduler({ driver: createMemoryDriver({ store }), schedules: [schedule] });
      const start = Date.now() - 400;
      scheduler.start();
      await vi.advanceTimersByTimeAsync(3_000);
      vi.setSystemTime(Date.now() + 2_500);
      await vi.advanceTimersByTimeAsync(1_050);
      await scheduler.stop();
      const ticks = await drainTicks(createMemoryDriver({ store }));
      // 1, 2, 3 s on time; the 4 s timer runs 2.5 s late (6.5 s): 6 s is on time, 4 and 5 s are skipped.
      expect(ticks.sort((a, b) => a - b)).toEqual([1, 2, 3, 6].map((s) => start + s * 1_000));
    });

    it('a scheduler down for 5 ticks with catchUp: 2 fires exactly 2 of them, then goes on', async () => {
      vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 0, 0, 0, 400) });
      const store = new MemoryStore({ now: () => Date.now() });
      const schedule: ScheduleDefinition = {
        name: 'catching-up',
        cron: '* * * * * *',
        missed: { catchUp: 2 },
        job: (tickAt) => report.create({ tickAt }),
      };
      const t0 = Date.now() - 400;
      const first = new Scheduler({ driver: createMemoryDriver({ store }), schedules: [schedule] });
      first.start();
      await vi.advanceTimersByTimeAsync(2_000);
      await first.stop();
      // Down while the ticks at 3..7 s come due; a new process starts as the 8 s tick is due.
      await vi.advanceTimersByTimeAsync(8_000 - 2_400 + 50);
      const second = new Scheduler({ driver: createMemoryDriver({ store }), schedules: [schedule] });
      second.start();
      await vi.advanceTimersByTimeAsync(1_000);
      await second.stop();
      const ticks = (await drainTicks(createMemoryDriver({ store }))).map((tick) => (tick - t0) / 1_000).sort((a, b) => a - b);
      expect(ticks).toEqual([1, 2, 6, 7, 8, 9]);
      expect(ticks.filter((s) => s >= 3 && s <= 7)).toHaveLength(2);
    });

    it("overlap 'skip' records a tick without a job while the previous tick's job waits, then fires again", async () => {
      vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 0, 0, 0, 400) });
      const store = new MemoryStore({ now: () => Date.now() });
      const fired: number[] = [];
      const schedule: ScheduleDefinition = {
        name: 'no-overlap',
        cron: '* * * * * *',
        overlap: 'skip',
        job: (tickAt) => report.create({ tickAt }),
      };
      const driver = createMemoryDriver({ store });
      const scheduler = new Scheduler({ driver, schedules: [schedule], onFire: ({ tickAt }) => fired.push(tickAt) });
      const t0 = Date.now() - 400;
      scheduler.start();
      await vi.advanceTimersByTimeAsync(3_000);
      expect(fired).toEqual([t0 + 1_000]);
      const [status] = await scheduleStatuses(driver, [schedule]);
      expect(status).toMatchObject({ lastTickAt: t0 + 3_000, lastOutcome: 'waiting', nextTickAt: t0 + 4_000 });
      expect(await drainTicks(driver)).toEqual([t0 + 1_000]);
      await vi.advanceTimersByTimeAsync(1_000);
      await scheduler.stop();
      expect(fired).toEqual([t0 + 1_000, t0 + 4_000]);
    });
  });

  it('runScheduleNow() pushes one job recorded as a manual run, leaving the tick sequence alone', async () => {
    const driver = createMemoryDriver();
    const schedule: ScheduleDefinition = { name: 'manual', cron: '0 3 * * *', job: (tickAt) => report.create({ tickAt }) };
    const before = await scheduleStatuses(driver, [schedule]);
    expect(before[0]).toMatchObject({ name: 'manual', lastTickAt: undefined, lastRunJobId: undefined, lastOutcome: undefined });
    const jobId = await runScheduleNow(driver, schedule);
    const [after] = await scheduleStatuses(driver, [schedule]);
    expect(after).toMatchObject({ lastTickAt: undefined, lastRunJobId: jobId });
    expect(after?.lastRunAt).toBeGreaterThan(Date.now() - 5_000);
    expect((await driver.stats('default')).ready).toBe(1);
  });
});
