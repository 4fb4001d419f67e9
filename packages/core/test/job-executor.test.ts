import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEnvelope, defineJob, JobExecutor, JobRegistry, LeaseLostError, silentLogger, Worker } from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('JobExecutor heartbeat', () => {
  it.each([
    { leaseMs: 300, heartbeatMs: 100 },
    { leaseMs: 300, heartbeatMs: 240 },
  ])(
    'renews a running job within heartbeatMs of the last renewal (lease $leaseMs, heartbeat $heartbeatMs)',
    async ({ leaseMs, heartbeatMs }) => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
      const driver = createMemoryDriver();
      const renewals: { id: string; at: number }[] = [];
      const extend = driver.extend.bind(driver);
      driver.extend = async (reservation, ms) => {
        renewals.push({ id: reservation.id, at: Date.now() });
        return extend(reservation, ms);
      };
      const extendMany = driver.extendMany.bind(driver);
      driver.extendMany = async (reservations, ms) => {
        for (const reservation of reservations) renewals.push({ id: reservation.id, at: Date.now() });
        return extendMany(reservations, ms);
      };
      const slow = defineJob('slow', () => new Promise<void>((resolve) => setTimeout(resolve, 2_000)));
      await slow.create({}).dispatch(driver);
      await slow.create({}).dispatch(driver);
      const executor = new JobExecutor({
        driver,
        registry: new JobRegistry([slow]),
        logger: silentLogger,
        emit: () => {},
        leaseMs,
        heartbeatMs,
      });
      // The first job starts the shared heartbeat timer; the second starts between its ticks.
      const first = await driver.reserve(['default'], { leaseMs, waitMs: 0 });
      const firstOutcome = executor.execute(first!);
      await vi.advanceTimersByTimeAsync(Math.round(heartbeatMs * 0.55));
      const second = await driver.reserve(['default'], { leaseMs, waitMs: 0 });
      const started = Date.now();
      const outcome = executor.execute(second!);
      await vi.advanceTimersByTimeAsync(2_100);
      expect(await firstOutcome).toBe('completed');
      expect(await outcome).toBe('completed');
      const own = renewals.filter((r) => r.id === second!.id).map((r) => r.at);
      expect(own.length).toBeGreaterThanOrEqual(Math.floor(2_000 / heartbeatMs));
      const gaps = [own[0]! - started, ...own.slice(1).map((at, i) => at - own[i]!)];
      expect(Math.max(...gaps)).toBeLessThanOrEqual(heartbeatMs);
    },
  );
});

describe('JobExecutor heartbeat, batched', () => {
  it('renews the leases of every running job in one extendMany call per tick', async () => {
    const driver = createMemoryDriver();
    const calls: number[] = [];
    const extendMany = driver.extendMany.bind(driver);
    driver.extendMany = async (reservations, ms) => {
      calls.push(reservations.length);
      return extendMany(reservations, ms);
    };
    driver.extend = async () => {
      throw new Error('extend() must not be called one job at a time');
    };
    const slow = defineJob('slow', () => new Promise<void>((resolve) => setTimeout(resolve, 250)));
    for (let i = 0; i < 5; i += 1) await slow.create({}).dispatch(driver);
    const executor = new JobExecutor({
      driver,
      registry: new JobRegistry([slow]),
      logger: silentLogger,
      emit: () => {},
      leaseMs: 300,
      heartbeatMs: 100,
    });
    const reservations = await driver.claim(['default'], { leaseMs: 300, waitMs: 0, max: 5 });
    expect(reservations).toHaveLength(5);
    const outcomes = await Promise.all(reservations.map((reservation) => executor.execute(reservation)));
    expect(outcomes).toEqual(Array(5).fill('completed'));
    // Started together, the five are due together: a tick renews them in one call (a job that
    // started a moment later may fall to the next tick, so not every call has all five).
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...calls)).toBe(5);
  });

  it('aborts a job whose lease extendMany reports lost', async () => {
    const driver = createMemoryDriver();
    let reason: unknown;
    const job = defineJob('lost', async (_p: {}, ctx) => {
      ctx.signal.addEventListener('abort', () => {
        reason = ctx.signal.reason;
      });
      await new Promise(() => {});
    });
    await job.create({}).dispatch(driver);
    await job.create({}).dispatch(driver);
    const executor = new JobExecutor({
      driver,
      registry: new JobRegistry([job]),
      logger: silentLogger,
      emit: () => {},
      leaseMs: 60,
      heartbeatMs: 20,
    });
    const [a, b] = await driver.claim(['default'], { leaseMs: 60, waitMs: 0, max: 2 });
    // Another worker takes `a` over: its lease is handed back and claimed again.
    await driver.giveBack([a!]);
    await driver.reserve(['default'], { leaseMs: 60_000, waitMs: 0 });
    const outcomeA = executor.execute(a!);
    void executor.execute(b!);
    expect(await outcomeA).toBe('lease-lost');
    expect(reason).toBeInstanceOf(LeaseLostError);
  });
});

describe('JobExecutor handler context', () => {
  it('gives each handler its job fields, and members that work when destructured', async () => {
    const driver = createMemoryDriver();
    const seen: unknown[] = [];
    const job = defineJob('ctx', async (payload: { n: number }, ctx) => {
      const { extendLease, signal, log, id, attempt, maxAttempts, queue, name } = ctx;
      const expiresAt = await extendLease(60_000);
      log.info('running');
      seen.push({
        n: payload.n,
        id,
        attempt,
        maxAttempts,
        queue,
        name,
        aborted: signal.aborted,
        extended: expiresAt > Date.now() + 30_000,
      });
    });
    const first = job.create({ n: 1 }).attempts(3);
    const second = job.create({ n: 2 });
    await first.dispatch(driver);
    await second.dispatch(driver);
    const executor = new JobExecutor({ driver, registry: new JobRegistry([job]), logger: silentLogger, emit: () => {}, leaseMs: 1_000 });
    for (let i = 0; i < 2; i += 1) {
      const reservation = await driver.reserve(['default'], { leaseMs: 1_000, waitMs: 0 });
      expect(await executor.execute(reservation!)).toBe('completed');
    }
    expect(seen).toEqual([
      { n: 1, id: first.id, attempt: 1, maxAttempts: 3, queue: 'default', name: 'ctx', aborted: false, extended: true },
      { n: 2, id: second.id, attempt: 1, maxAttempts: 1, queue: 'default', name: 'ctx', aborted: false, extended: true },
    ]);
  });

  it('aborts the signal and ends the delivery as lease-lost when extendLease finds the lease gone', async () => {
    const driver = createMemoryDriver();
    let reason: unknown;
    const job = defineJob('lost', async (_p: {}, ctx) => {
      ctx.signal.addEventListener('abort', () => {
        reason = ctx.signal.reason;
      });
      // Another worker took the job over: the lease ran out and it was claimed again.
      await new Promise((resolve) => setTimeout(resolve, 80));
      await driver.reserve(['default'], { leaseMs: 10_000, waitMs: 0 });
      await ctx.extendLease().catch(() => undefined);
      await new Promise(() => {});
    });
    await job.create({}).attempts(2).dispatch(driver);
    const executor = new JobExecutor({
      driver,
      registry: new JobRegistry([job]),
      logger: silentLogger,
      emit: () => {},
      leaseMs: 50,
      heartbeatMs: 10_000,
    });
    const reservation = await driver.reserve(['default'], { leaseMs: 50, waitMs: 0 });
    expect(await executor.execute(reservation!)).toBe('lease-lost');
    expect(reason).toBeInstanceOf(LeaseLostError);
  });
});

describe('the finished-job record of a completed job', () => {
  it('keeps when the job was due beside when it started and finished, so its wait can be read back', async () => {
    const driver = createMemoryDriver();
    const due = defineJob('due', async () => 'ok');
    const envelope = createEnvelope({ name: 'due', queue: 'default', payload: {}, availableAt: Date.now() - 5_000 });
    await driver.push([envelope]);
    await new Worker({ driver, jobs: [due], queues: ['default'], waitMs: 20, stopWhenEmpty: true, logger: silentLogger }).run();
    const job = await driver.getJob(envelope.id);
    expect(job).toMatchObject({ state: 'completed', availableAt: envelope.availableAt });
    expect(job?.startedAt as number).toBeGreaterThanOrEqual(envelope.availableAt + 5_000 - 1_000);
    expect(job?.finishedAt as number).toBeGreaterThanOrEqual(job?.startedAt as number);
  });
});
