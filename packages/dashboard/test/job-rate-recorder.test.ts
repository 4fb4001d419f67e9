import { defineJob, QueueManager, Worker } from '@queuekit/core';
import { createMemoryDriver } from '@queuekit/core/testing';
import { describe, expect, it } from 'vitest';
import { JobRateRecorder, percentile } from '../src/index.js';

describe('JobRateRecorder', () => {
  it('counts runs per minute over the last hour and drops older minutes', () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 30);
    const recorder = new JobRateRecorder({ now: () => now });
    recorder.recordRun('main', 'mail', 'completed', 10);
    recorder.recordRun('main', 'mail', 'completed', 30);
    recorder.recordRun('main', 'mail', 'failed', 20);
    now += 60_000;
    recorder.recordRun('main', 'mail', 'completed', 40);
    let rates = recorder.rates('main', 'mail');
    expect(rates.completed).toBe(3);
    expect(rates.failed).toBe(1);
    expect(rates.completedPerBucket).toHaveLength(60);
    expect(rates.completedPerBucket.slice(-2)).toEqual([2, 1]);
    expect(rates.runP50Ms).toBe(20);
    expect(rates.runP95Ms).toBe(40);
    expect(recorder.rates('main', 'other').completed).toBe(0);
    now += 60 * 60_000;
    rates = recorder.rates('main', 'mail');
    expect(rates.completed).toBe(0);
    expect(rates.completedPerBucket.every((n) => n === 0)).toBe(true);
  });

  it('takes the wait p50 and p95 from the workers it observes', async () => {
    const driver = createMemoryDriver();
    const manager = new QueueManager({ connections: { main: { driver: 'memory', create: () => driver } } });
    const echo = defineJob('echo', async (n: number) => n);
    for (let i = 0; i < 20; i += 1) await echo.create(i).onQueue('q').dispatch(driver);
    const recorder = new JobRateRecorder();
    const worker = new Worker({ driver, jobs: [echo], queues: ['q'], waitMs: 10, stopWhenEmpty: true });
    const stop = recorder.observe(worker, 'main');
    await worker.run();
    stop();
    const rates = recorder.rates('main', 'q');
    expect(rates.completed).toBe(20);
    expect(rates.waitP50Ms).not.toBeNull();
    expect(rates.waitP95Ms as number).toBeGreaterThanOrEqual(rates.waitP50Ms as number);
    expect(recorder.hasConnection('main')).toBe(true);
    await manager.close();
  });

  it('percentile is nearest-rank and null when empty', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.95)).toBe(4);
  });
});
