import { afterEach, describe, expect, it } from 'vitest';
import {
  defineJob,
  InvalidArgumentError,
  type JobContext,
  JobTimeoutError,
  lookupJob,
  type QueueDriver,
  Worker,
  type WorkerOptions,
} from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { until } from './fixtures/wait.js';

const workers: Worker[] = [];
function startWorker(options: WorkerOptions): Worker {
  const worker = new Worker({ waitMs: 50, shutdownGraceMs: 1_000, ...options });
  workers.push(worker);
  void worker.run();
  return worker;
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
});

describe('the handler context', () => {
  it('is a plain object: a spread copy keeps signal, log, extendLease and progress, and they work', async () => {
    const driver = createMemoryDriver();
    let copy: (JobContext & { extra: number }) | undefined;
    let renewedTo = 0;
    const job = defineJob('spread', async (_p: {}, ctx) => {
      const own = { ...ctx, extra: 1 } as JobContext & { extra: number };
      copy = own;
      renewedTo = await own.extendLease(60_000);
      own.progress(10);
      own.log.info('from a copy');
      return own.signal.aborted;
    });
    const handle = await job.create({}).dispatch(driver);
    startWorker({ driver, jobs: [job] });
    expect(await handle.result({ timeoutMs: 5_000 })).toBe(false);
    expect(Object.keys(copy ?? {})).toEqual(
      expect.arrayContaining([
        'id',
        'name',
        'queue',
        'attempt',
        'maxAttempts',
        'parent',
        'envelope',
        'signal',
        'log',
        'extendLease',
        'progress',
        'extra',
      ]),
    );
    expect(copy?.signal).toBeInstanceOf(AbortSignal);
    expect(renewedTo).toBeGreaterThan(Date.now());
    expect((await handle.info())?.progress).toBe(10);
  });

  it('a signal first read after the run was aborted is already aborted, with the reason', async () => {
    const driver = createMemoryDriver();
    let seen: { aborted: boolean; reason: unknown } | undefined;
    const job = defineJob(
      'late-reader',
      async (_p: {}, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
      },
      { timeoutMs: 50, maxAttempts: 1 },
    );
    await job.create({}).dispatch(driver);
    startWorker({ driver, jobs: [job] });
    await until(async () => seen !== undefined);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(JobTimeoutError);
  });

  it('progress() is coalesced: many calls make few writes, the last value is stored, every call is an event', async () => {
    const driver = createMemoryDriver();
    const writes: string[] = [];
    const counting: QueueDriver = Object.assign(Object.create(driver) as QueueDriver, {
      setProgress: (reservation: Parameters<NonNullable<QueueDriver['setProgress']>>[0], progress: string) => {
        writes.push(progress);
        return driver.setProgress(reservation, progress);
      },
    });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const job = defineJob('busy', async (_p: {}, ctx) => {
      for (let i = 1; i <= 1_000; i += 1) ctx.progress({ done: i, of: 1_000 });
      await gate;
      return 'done';
    });
    const handle = await job.create({}).dispatch(driver);
    const worker = startWorker({ driver: counting, jobs: [job] });
    const events: unknown[] = [];
    worker.on('progress', (event) => events.push(event.progress));
    await until(async () => (await lookupJob(driver, handle.id))?.progress !== undefined && writes.length >= 2);
    expect((await handle.info())?.progress).toEqual({ done: 1_000, of: 1_000 });
    // The first value right away, the last after the coalescing interval; nothing between.
    expect(writes).toEqual([JSON.stringify({ done: 1, of: 1_000 }), JSON.stringify({ done: 1_000, of: 1_000 })]);
    expect(events).toHaveLength(1_000);
    release();
    expect(await handle.result({ timeoutMs: 5_000 })).toBe('done');
    expect((await handle.info())?.progress).toEqual({ done: 1_000, of: 1_000 });
  });

  it('progress() refuses what is not JSON or is too large, naming the job', async () => {
    const driver = createMemoryDriver();
    const errors: unknown[] = [];
    const job = defineJob('bad-progress', async (_p: {}, ctx) => {
      for (const value of [() => 1, { big: 'x'.repeat(20_000) }, 1n]) {
        try {
          ctx.progress(value as never);
        } catch (error) {
          errors.push(error);
        }
      }
    });
    const handle = await job.create({}).dispatch(driver);
    startWorker({ driver, jobs: [job] });
    await handle.result({ timeoutMs: 5_000 });
    expect(errors).toHaveLength(3);
    for (const error of errors) expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(String((errors[1] as Error).message)).toMatch(/progress of job bad-progress .* bytes of JSON, at most 16384 allowed/);
  });
});
