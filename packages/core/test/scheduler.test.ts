import { describe, expect, it } from 'vitest';
import { ConfigError, defineJob, Scheduler } from '../src/index.js';
import { createMemoryDriver, MemoryStore } from '../src/testing/index.js';

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
    for (const scheduler of schedulers) scheduler.stop();
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
});
