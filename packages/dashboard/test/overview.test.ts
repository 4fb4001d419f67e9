import { type CoordinationStore, createEnvelope, defineJob, QueueManager } from '@queuekit/core';
import { createMemoryDriver } from '@queuekit/core/testing';
import { describe, expect, it } from 'vitest';
import { collectOverview } from '../src/index.js';

describe('collectOverview', () => {
  it('lists problems worst first: an unreachable connection, a threshold, then warnings and a broken schedule', async () => {
    // Keeps no completed jobs and no recorder observes it: no rates to show.
    const driver = createMemoryDriver({ retention: false });
    const manager = new QueueManager({
      default: 'main',
      connections: {
        main: { driver: 'memory', create: () => driver },
        down: {
          driver: 'memory',
          create: () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:1');
          },
        },
      },
    });
    await driver.push(Array.from({ length: 4 }, () => createEnvelope({ name: 'n', queue: 'default' })));
    const model = await collectOverview({
      manager,
      thresholds: { maxReady: 3 },
      schedules: [
        { name: 'ok', cron: '*/5 * * * *' },
        { name: 'broken', cron: 'not a cron' },
      ],
    });
    expect(model.health.status).toBe('unreachable');
    expect(model.problems.map((p) => p.severity)).toEqual(['unreachable', 'degraded', 'degraded', 'warning']);
    expect(model.problems[0]?.message).toContain('ECONNREFUSED');
    expect(model.problems.some((p) => p.message === 'ready 4 > max 3')).toBe(true);
    expect(model.problems.some((p) => p.message.startsWith('schedule broken: scheduler: schedule "broken": invalid cron'))).toBe(true);
    expect(model.problems.at(-1)?.message).toBe('4 ready, no worker seen');
    const ok = model.schedules.find((s) => s.name === 'ok');
    expect((ok?.nextTickAt as number) - (ok?.lastTickAt as number)).toBe(5 * 60_000);
    expect(model.rates).toBeNull();
    expect(model.capabilities.main?.delay).toBe('emulated');
    expect(ok).toMatchObject({ lastTickFrom: 'cron', lastOutcome: null });
    await manager.close();
  });

  it("shows a schedule's last fired tick from the backend's ledger, with its job's state; a ledger that fails is a problem", async () => {
    const driver = createMemoryDriver();
    const manager = new QueueManager({ default: 'main', connections: { main: { driver: 'memory', create: () => driver } } });
    const job = defineJob('tick', async () => undefined);
    const tickAt = Date.UTC(2026, 10, 30, 12, 0, 0);
    const fired = job.create({});
    await fired.dispatch(driver);
    expect(await driver.createCoordinationStore().recordTick('hourly', tickAt, fired.id)).toBe(true);
    const schedules = [
      { name: 'hourly', cron: '0 * * * *', job: () => job.create({}) },
      { name: 'fresh', cron: '0 * * * *', job: () => job.create({}) },
    ];
    const model = await collectOverview({ manager, schedules });
    expect(model.schedules.find((s) => s.name === 'hourly')).toMatchObject({
      lastTickFrom: 'ledger',
      lastTickAt: tickAt,
      lastOutcome: 'waiting',
    });
    expect(model.schedules.find((s) => s.name === 'fresh')).toMatchObject({ lastTickFrom: 'ledger', lastTickAt: null });
    expect(model.problems.filter((p) => p.message.startsWith('schedule '))).toEqual([]);

    // The tick's job fails for good: the schedule is flagged until a later tick's job does better.
    const [claimed] = await (driver.claim as NonNullable<typeof driver.claim>)(['default'], { leaseMs: 30_000, waitMs: 0, max: 1 });
    await driver.deadLetter(claimed!, {
      reason: 'failed',
      error: { name: 'Error', message: 'boom' },
      attempts: 1,
      firstFailedAt: Date.now(),
      failedAt: Date.now(),
    });
    const afterFailure = await collectOverview({ manager, schedules });
    expect(afterFailure.schedules.find((s) => s.name === 'hourly')).toMatchObject({ lastOutcome: 'failed' });
    expect(afterFailure.problems).toContainEqual({
      severity: 'warning',
      connection: 'main',
      queue: null,
      message: 'schedule hourly: the job of its last tick failed (dead-lettered)',
    });

    const broken = Object.assign(Object.create(driver) as typeof driver, {
      // A store whose clock answers and whose ledger does not (only what the read calls).
      createCoordinationStore: () => {
        const store = driver.createCoordinationStore();
        return {
          now: () => store.now(),
          scheduleEntry: () => Promise.reject(new Error('ledger unreadable')),
        } as unknown as CoordinationStore;
      },
    });
    const other = new QueueManager({ default: 'main', connections: { main: { driver: 'memory', create: () => broken } } });
    const failed = await collectOverview({ manager: other, schedules });
    expect(failed.schedules[0]).toMatchObject({ lastTickFrom: 'cron', ledgerError: expect.stringContaining('ledger unreadable') });
    expect(failed.problems.some((p) => p.message.startsWith('schedule hourly: its fired ticks could not be read'))).toBe(true);
    await manager.close();
    await other.close();
  });
});
