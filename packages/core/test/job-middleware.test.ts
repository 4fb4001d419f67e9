import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  defineJob,
  type JobMiddleware,
  MemoryCoordinationStore,
  type QueueDriver,
  RetryPolicy,
  rateLimited,
  throttleExceptions,
  Worker,
  type WorkerOptions,
  withoutOverlapping,
} from '../src/index.js';
import { createMemoryDriver, MemoryStore } from '../src/testing/index.js';
import { sleep, until } from './fixtures/wait.js';

const workers: Worker[] = [];
function start(options: WorkerOptions): Worker {
  const worker = new Worker({ waitMs: 20, shutdownGraceMs: 1_000, ...options });
  workers.push(worker);
  void worker.run();
  return worker;
}
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
});

/** The memory driver without `member`, as a backend that lacks it would be. */
function without(driver: QueueDriver, member: 'createCoordinationStore' | 'postpone'): QueueDriver {
  return new Proxy(driver, { get: (target, key) => (key === member ? undefined : Reflect.get(target, key, target)) });
}

describe('job middleware', () => {
  it('gets a plain context: a { ...ctx } copy keeps the payload, signal, stores and postpone', async () => {
    const driver = createMemoryDriver();
    const seen: Record<string, unknown> = {};
    const copying: JobMiddleware<{ n: number }> = async (ctx, next) => {
      const copy = { ...ctx };
      seen.payload = copy.payload;
      seen.signal = copy.signal instanceof AbortSignal;
      seen.coordination = typeof copy.coordination.increment;
      seen.postpone = typeof copy.postpone;
      seen.leaseMs = copy.leaseMs;
      return next();
    };
    const job = defineJob('copied', async (p: { n: number }) => p.n, { middleware: [copying] });
    await job.create({ n: 3 }).dispatch(driver);
    await new Worker({ driver, jobs: [job], waitMs: 20, leaseMs: 2_000, stopWhenEmpty: true }).run();
    expect(seen).toEqual({ payload: { n: 3 }, signal: true, coordination: 'function', postpone: 'function', leaseMs: 2_000 });
  });

  it('runs middleware outermost first around the handler, each seeing the payload, and keeps the result', async () => {
    const driver = createMemoryDriver();
    const trace: string[] = [];
    const tag =
      (name: string): JobMiddleware<{ n: number }> =>
      async (ctx, next) => {
        trace.push(`${name}:before:${ctx.payload.n}`);
        const result = await next();
        trace.push(`${name}:after:${String(result)}`);
        return result;
      };
    const job = defineJob(
      'traced',
      async (p: { n: number }) => {
        trace.push('handler');
        return p.n * 2;
      },
      { middleware: [tag('outer'), tag('inner')] },
    );
    await job.create({ n: 21 }).dispatch(driver);
    const results: unknown[] = [];
    const worker = new Worker({ driver, jobs: [job], waitMs: 20, stopWhenEmpty: true });
    worker.on('completed', (event) => results.push(event.result));
    await worker.run();
    expect(trace).toEqual(['outer:before:21', 'inner:before:21', 'handler', 'inner:after:42', 'outer:after:42']);
    expect(results).toEqual([42]);
  });

  it('a worker refuses to start when a middleware needs what the driver lacks, naming job, middleware and driver', () => {
    const driver = createMemoryDriver();
    const job = defineJob('locked', async () => undefined, { middleware: [withoutOverlapping('k')] });
    expect(() => new Worker({ driver: without(driver, 'createCoordinationStore'), jobs: [job] })).toThrow(ConfigError);
    expect(() => new Worker({ driver: without(driver, 'createCoordinationStore'), jobs: [job] })).toThrow(
      'job locked: middleware withoutOverlapping needs a coordination store (createCoordinationStore()), which driver "memory" does not have',
    );
    expect(() => new Worker({ driver: without(driver, 'postpone'), jobs: [job] })).toThrow(/needs a postpone\(\)/);
  });

  it('rateLimited postpones jobs past the limit instead of running or failing them, burning no attempt', async () => {
    const driver = createMemoryDriver();
    const attempts: number[] = [];
    const job = defineJob(
      'limited',
      async (_p: { i: number }, ctx) => {
        attempts.push(ctx.attempt);
      },
      { middleware: [rateLimited('api', { limit: 2, intervalMs: 300 })], maxAttempts: 1 },
    );
    for (let i = 0; i < 4; i += 1) await job.create({ i }).dispatch(driver);
    const worker = start({ driver, jobs: [job], concurrency: 4 });
    const postponed: number[] = [];
    worker.on('postponed', (event) => postponed.push(event.delayMs));
    await until(() => attempts.length === 4);
    // Two ran at once; the other two waited for tokens (about 150 ms each) and then ran as attempt 1.
    expect(attempts).toEqual([1, 1, 1, 1]);
    expect(postponed.length).toBeGreaterThanOrEqual(2);
    expect(postponed.every((delayMs) => delayMs > 0 && delayMs <= 300)).toBe(true);
    expect(await driver.deadLetters.count()).toBe(0);
  });

  it('withoutOverlapping runs one job per key at a time across two workers sharing a backend', async () => {
    const store = new MemoryStore();
    let running = 0;
    let most = 0;
    let done = 0;
    const job = defineJob(
      'exclusive',
      async () => {
        running += 1;
        most = Math.max(most, running);
        await sleep(30);
        running -= 1;
        done += 1;
      },
      { middleware: [withoutOverlapping('report', { retryAfterMs: 10 })] },
    );
    const producer = createMemoryDriver({ store });
    for (let i = 0; i < 5; i += 1) await job.create({}).dispatch(producer);
    start({ driver: createMemoryDriver({ store }), jobs: [job], concurrency: 3 });
    start({ driver: createMemoryDriver({ store }), jobs: [job], concurrency: 3 });
    await until(() => done === 5);
    expect(most).toBe(1);
    // The lock is free again once the last job ended.
    expect(await store.coordination.remainingMs('lock:report')).toBe(0);
  });

  it('throttleExceptions opens after the failures, postpones (does not fail) jobs while open, and closes after the cooldown', async () => {
    const driver = createMemoryDriver();
    let healthy = false;
    const runs: string[] = [];
    const job = defineJob(
      'call-partner',
      async (p: { label: string }) => {
        runs.push(p.label);
        if (!healthy) throw new Error('partner is down');
      },
      { middleware: [throttleExceptions({ failures: 2, windowMs: 5_000, cooldownMs: 2_000 })] },
    );
    await job.create({ label: 'a' }).attempts(1).dispatch(driver);
    await job.create({ label: 'b' }).attempts(1).dispatch(driver);
    const worker = start({ driver, jobs: [job] });
    const postponed: string[] = [];
    worker.on('postponed', (event) => postponed.push(event.reason));
    await until(async () => (await driver.deadLetters.count()) === 2);
    expect(await driver.store.coordination.remainingMs('circuit:call-partner:open')).toBeGreaterThan(0);
    // While open, a new job is postponed, not run and not failed.
    const c = job.create({ label: 'c' }).attempts(1, RetryPolicy.none());
    await c.dispatch(driver);
    await until(() => postponed.length >= 1);
    expect(postponed[0]).toMatch(/circuit:call-partner is open/);
    expect(runs).toEqual(['a', 'b']);
    healthy = true;
    await until(() => runs.includes('c'), 10_000);
    expect(await driver.deadLetters.get(c.id)).toBeUndefined();
    expect(await driver.deadLetters.count()).toBe(2);
  });
});

describe('MemoryCoordinationStore', () => {
  it('counts in a fixed window, leases keys to one owner with renewal, and forgets what expired', async () => {
    let now = 1_000;
    const store = new MemoryCoordinationStore({ now: () => now });
    expect(await store.increment('c', 100)).toBe(1);
    now += 60;
    expect(await store.increment('c', 100)).toBe(2);
    now += 50;
    expect(await store.increment('c', 100)).toBe(1);
    expect(await store.acquire('l', 'a', 100)).toBe(true);
    expect(await store.acquire('l', 'b', 100)).toBe(false);
    now += 50;
    expect(await store.acquire('l', 'a', 100)).toBe(true);
    expect(await store.remainingMs('l')).toBe(100);
    expect(await store.release('l', 'b')).toBe(false);
    expect(await store.release('l', 'a')).toBe(true);
    expect(await store.acquire('l', 'b', 100)).toBe(true);
    now += 100;
    expect(await store.remainingMs('l')).toBe(0);
    expect(await store.acquire('l', 'c', 10)).toBe(true);
    expect(await store.delete('l')).toBe(true);
    expect(await store.delete('l')).toBe(false);
  });
});
