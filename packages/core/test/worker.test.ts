import { afterEach, describe, expect, it } from 'vitest';
import {
  DriverConnectionError,
  defineJob,
  JobRegistry,
  MemoryRateLimitStore,
  type QueueDriver,
  type Reservation,
  RetryPolicy,
  Worker,
  type WorkerOptions,
} from '../src/index.js';
import { createMemoryDriver, MemoryStore } from '../src/testing/index.js';
import { sleep, until } from './fixtures/wait.js';

const workers: Worker[] = [];
function startWorker(options: WorkerOptions): { worker: Worker; done: Promise<void> } {
  const worker = new Worker({ waitMs: 50, shutdownGraceMs: 1_000, ...options });
  workers.push(worker);
  return { worker, done: worker.run() };
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
});

describe('Worker', () => {
  it('runs a job with max attempts 3 that always throws exactly 3 times, then dead-letters it with its last error', async () => {
    const driver = createMemoryDriver();
    let runs = 0;
    const broken = defineJob('broken', async (_p: {}, ctx) => {
      runs += 1;
      throw new Error(`failure on attempt ${ctx.attempt}`);
    });
    const job = broken.create({}).attempts(3, RetryPolicy.fixed(10));
    await job.dispatch(driver);
    const { worker } = startWorker({ driver, jobs: [broken] });
    const retries: number[] = [];
    worker.on('retrying', (event) => retries.push(event.attempt));
    await until(async () => (await driver.deadLetters.count()) === 1);
    await sleep(100);
    expect(runs).toBe(3);
    expect(retries).toEqual([1, 2]);
    const entry = await driver.deadLetters.get(job.id);
    expect(entry).toMatchObject({ reason: 'failed', attempts: 3, queue: 'default', name: 'broken' });
    expect(entry?.error.message).toBe('failure on attempt 3');
    expect(entry?.error.stack).toContain('failure on attempt 3');
    expect(entry?.firstFailedAt).toBeLessThanOrEqual(entry?.failedAt ?? 0);
  });

  it('completes a then/catch/chain across a worker restart between parent and child', async () => {
    const store = new MemoryStore();
    const seen: string[] = [];
    const step = defineJob('step', async (p: { n: number }, ctx) => {
      seen.push(`step${p.n}<-${JSON.stringify(ctx.parent?.result ?? null)}`);
      return p.n;
    });
    const failing = defineJob('failing', async () => {
      throw new Error('bad');
    });
    const handler = defineJob('handler', async (_p: {}, ctx) => {
      seen.push(`caught ${ctx.parent?.name}: ${ctx.parent?.error?.message}`);
    });
    const jobs = [step, failing, handler];
    await step
      .create({ n: 1 })
      .chain([step.create({ n: 2 }), step.create({ n: 3 })])
      .dispatch(createMemoryDriver({ store }));
    // First worker process: runs only the parent, then stops (a restart).
    const first = startWorker({ driver: createMemoryDriver({ store }), jobs, maxJobs: 1 });
    await first.done;
    expect(seen).toEqual(['step1<-null']);
    // Second worker: picks up the stored follow-ups.
    const second = startWorker({ driver: createMemoryDriver({ store }), jobs });
    await failing.create({}).catch(handler.create({})).dispatch(createMemoryDriver({ store }));
    await until(() => seen.length === 4);
    expect(seen).toEqual(['step1<-null', 'step2<-1', 'step3<-2', 'caught failing: bad']);
    await second.worker.stop();
  });

  it('on SIGTERM lets in-flight jobs finish within the grace period and releases the rest', async () => {
    const driver = createMemoryDriver();
    const finished: string[] = [];
    const quick = defineJob('quick', async () => {
      await sleep(150);
      finished.push('quick');
    });
    const stuck = defineJob('stuck', async (_p: {}, ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      finished.push('stuck-aborted');
    });
    const stuckJob = stuck.create({});
    await quick.create({}).dispatch(driver);
    await stuckJob.dispatch(driver);
    await quick.create({}).dispatch(driver);
    const { worker, done } = startWorker({ driver, jobs: [quick, stuck], concurrency: 2, handleSignals: true, shutdownGraceMs: 400 });
    const released: string[] = [];
    const stopped: string[] = [];
    worker.on('released', (e) => released.push(e.id));
    worker.on('stopped', (e) => stopped.push(e.reason));
    await until(() => worker.inFlight === 2);
    process.emit('SIGTERM');
    await done;
    expect(finished).toContain('quick');
    expect(released).toEqual([stuckJob.id]);
    expect(stopped).toEqual(['signal']);
    // The third job was never started; the released one is back in the queue.
    const stats = await driver.stats('default');
    expect(stats.ready).toBe(2);
    expect(stats.reserved).toBe(0);
  });

  it('dead-letters an undecodable payload and an unknown job name with a reason, and keeps going', async () => {
    const driver = createMemoryDriver();
    const ok = defineJob('ok', async () => 'fine');
    const orphan = defineJob('orphan', async () => 'never');
    const poisonId = await driver.pushRaw('default', '{not json');
    const orphanJob = orphan.create({});
    await orphanJob.dispatch(driver);
    const okJob = ok.create({});
    await okJob.dispatch(driver);
    const completed: string[] = [];
    const { worker } = startWorker({ driver, jobs: [ok] });
    worker.on('completed', (e) => completed.push(e.id));
    await until(() => completed.length === 1);
    expect(completed).toEqual([okJob.id]);
    const poison = await driver.deadLetters.get(poisonId);
    expect(poison?.reason).toBe('poison');
    expect(poison?.raw).toBe('{not json');
    expect(poison?.error.message).toMatch(/not valid JSON/);
    const unknown = await driver.deadLetters.get(orphanJob.id);
    expect(unknown?.reason).toBe('unknown-job');
    expect(unknown?.error.message).toContain('no handler is registered for job "orphan"');
  });

  it('never runs one job in two workers at once while its lease holds, and runs each exactly once', async () => {
    const store = new MemoryStore();
    const running = new Set<string>();
    const runs = new Map<string, number>();
    let overlaps = 0;
    const work = defineJob('work', async (_p: { i: number }, ctx) => {
      if (running.has(ctx.id)) overlaps += 1;
      running.add(ctx.id);
      runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
      await sleep(Math.random() * 3);
      running.delete(ctx.id);
    });
    const producer = createMemoryDriver({ store });
    for (let i = 0; i < 300; i += 1) await work.create({ i }).dispatch(producer);
    for (let w = 0; w < 4; w += 1) startWorker({ driver: createMemoryDriver({ store }), jobs: [work], concurrency: 5, leaseMs: 5_000 });
    await until(() => runs.size === 300 && running.size === 0, 10_000);
    await sleep(50);
    expect(overlaps).toBe(0);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
  });

  it('a worker whose lease ran out cannot acknowledge the job another worker now holds', async () => {
    const store = new MemoryStore();
    let calls = 0;
    const events: string[] = [];
    let releaseB: () => void = () => {};
    const bHolds = new Promise<void>((resolve) => {
      releaseB = resolve;
    });
    const slow = defineJob('slow', async (_p: {}, ctx) => {
      calls += 1;
      // The first delivery outlives its lease (no heartbeat); the second holds the job until told.
      if (calls === 1) await sleep(300);
      else await bHolds;
      return ctx.attempt;
    });
    const parent = slow.create({}).attempts(3).then(slow.create({}));
    await parent.dispatch(createMemoryDriver({ store }));
    const a = startWorker({ driver: createMemoryDriver({ store }), jobs: [slow], leaseMs: 100, heartbeatMs: 60_000, queues: ['default'] });
    a.worker.on('completed', (e) => events.push(e.id === parent.id ? 'a:completed:parent' : 'a:completed:follow-up'));
    await until(() => calls === 1);
    const bDriver = createMemoryDriver({ store });
    const b = startWorker({ driver: bDriver, jobs: [slow], leaseMs: 5_000, concurrency: 1 });
    b.worker.on('completed', (e) => events.push(`b:completed:${e.attempt}`));
    await until(() => calls === 2);
    // A finishes while B holds the job: its settle must change nothing.
    await sleep(400);
    expect(events).toEqual([]);
    const held = await bDriver.stats('default');
    expect(held.reserved).toBe(1);
    expect(held.ready).toBe(0); // A dispatched no follow-up either
    releaseB();
    // B's completion comes first; the `then` follow-up it dispatches may complete right after.
    await until(() => events.length >= 1);
    // A lease that ran out is a lost delivery, not a failed run: B runs attempt 1 again.
    expect(events[0]).toBe('b:completed:1');
    expect(events).not.toContain('a:completed:parent');
  });

  it('heartbeats the lease of a long job so no other worker takes it', async () => {
    const store = new MemoryStore();
    let calls = 0;
    const long = defineJob('long', async () => {
      calls += 1;
      await sleep(500);
    });
    await long.create({}).dispatch(createMemoryDriver({ store }));
    const done: number[] = [];
    for (let w = 0; w < 2; w += 1) {
      startWorker({ driver: createMemoryDriver({ store }), jobs: [long], leaseMs: 150 }).worker.on('completed', (e) =>
        done.push(e.attempt),
      );
    }
    await until(() => done.length === 1);
    await sleep(300);
    expect(calls).toBe(1);
    expect(done).toEqual([1]);
  });

  it('dead-letters at once a job lost with its worker more often than maxLostDeliveries (its workers kept dying)', async () => {
    const driver = createMemoryDriver();
    let runs = 0;
    const crashy = defineJob('crashy', async () => {
      runs += 1;
    });
    const job = crashy.create({}).attempts(2);
    await job.dispatch(driver);
    // Three deliveries that never settle, as if each worker was killed mid-job.
    for (let i = 0; i < 3; i += 1) {
      const r = await driver.reserve(['default'], { leaseMs: 20, waitMs: 0 });
      expect(r).toMatchObject({ attempt: 1, lostDeliveries: i });
      await sleep(40);
    }
    startWorker({ driver, jobs: [crashy], maxLostDeliveries: 2 });
    await until(async () => (await driver.deadLetters.count()) === 1);
    expect(runs).toBe(0);
    const entry = await driver.deadLetters.get(job.id);
    expect(entry?.reason).toBe('max-deliveries');
    expect(entry?.attempts).toBe(0);
    expect(entry?.error.message).toMatch(/lost with its worker 3 times \(the limit is 2\)/);
  });

  it('runs a job lost with its worker as long as the lost deliveries stay within the limit, with attempt 1', async () => {
    const driver = createMemoryDriver();
    const attempts: number[] = [];
    const crashy = defineJob('crashy', async (_payload: unknown, ctx) => {
      attempts.push(ctx.attempt);
    });
    const job = crashy.create({});
    await job.dispatch(driver);
    for (let i = 0; i < 2; i += 1) {
      await driver.reserve(['default'], { leaseMs: 20, waitMs: 0 });
      await sleep(40);
    }
    startWorker({ driver, jobs: [crashy], maxLostDeliveries: 2 });
    await until(() => attempts.length === 1);
    expect(attempts).toEqual([1]);
    expect(await driver.deadLetters.count()).toBe(0);
  });

  it('fails a job past its timeout through its AbortSignal', async () => {
    const driver = createMemoryDriver();
    let aborted = false;
    const hang = defineJob('hang', async (_p: {}, ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      aborted = ctx.signal.aborted;
    });
    const job = hang.create({}).timeout(50);
    await job.dispatch(driver);
    startWorker({ driver, jobs: [hang] });
    await until(async () => (await driver.deadLetters.count()) === 1);
    const entry = await driver.deadLetters.get(job.id);
    expect(entry?.reason).toBe('timeout');
    expect(entry?.error.name).toBe('JobTimeoutError');
    expect(aborted).toBe(true);
  });

  it('takes queues in the given priority order', async () => {
    const driver = createMemoryDriver();
    const order: string[] = [];
    const record = defineJob('record', async (p: { tag: string }) => {
      order.push(p.tag);
    });
    await record.create({ tag: 'low-1' }).onQueue('low').dispatch(driver);
    await record.create({ tag: 'high-1' }).onQueue('high').dispatch(driver);
    await record.create({ tag: 'low-2' }).onQueue('low').dispatch(driver);
    await record.create({ tag: 'high-2' }).onQueue('high').dispatch(driver);
    const { done } = startWorker({ driver, jobs: [record], queues: ['high', 'low'], stopWhenEmpty: true });
    await done;
    expect(order).toEqual(['high-1', 'high-2', 'low-1', 'low-2']);
  });

  it('stops after maxJobs and reports why', async () => {
    const driver = createMemoryDriver();
    const noop = defineJob('noop', async () => undefined);
    for (let i = 0; i < 5; i += 1) await noop.create({}).dispatch(driver);
    const { worker, done } = startWorker({ driver, jobs: new JobRegistry([noop]), maxJobs: 3 });
    const reasons: string[] = [];
    worker.on('stopped', (e) => reasons.push(e.reason));
    await done;
    expect(worker.processed).toBe(3);
    expect(reasons).toEqual(['max-jobs']);
    expect((await driver.stats('default')).ready).toBe(2);
  });

  it('waits for rate-limit tokens instead of spending them on empty polls', async () => {
    let now = 1_000_000;
    const store = new MemoryRateLimitStore({ now: () => now });
    const driver = createMemoryDriver();
    const seen: number[] = [];
    const limited = defineJob('limited', async (p: { i: number }) => {
      seen.push(p.i);
    });
    // An idle period first: empty polls must not consume tokens.
    const rule = { limit: 2, intervalMs: 200 };
    const { worker } = startWorker({ driver, jobs: [limited], rateLimit: { store, queues: { default: rule } } });
    await sleep(200);
    expect(await store.peek('default', rule)).toBe(2);
    for (let i = 0; i < 3; i += 1) await limited.create({ i }).dispatch(driver);
    await until(() => seen.length === 2);
    await sleep(200);
    expect(seen).toEqual([0, 1]);
    now += 100; // one token refilled (the store's clock is frozen otherwise)
    await until(() => seen.length === 3);
    // Its ack goes out with the acks of its turn, so processed may lag the handler by a moment.
    await until(() => worker.processed === 3, 1_000);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('with groups by tenant, three tenants each get their share while one floods the queue', async () => {
    let now = 1_000_000;
    const store = new MemoryRateLimitStore({ now: () => now });
    const driver = createMemoryDriver();
    const done = new Map<string, number>();
    const tenantJob = defineJob('tenant-job', async (p: { tenant: string }) => {
      done.set(p.tenant, (done.get(p.tenant) ?? 0) + 1);
    });
    // Tenant a floods first; b and c queue behind all of its jobs.
    for (let i = 0; i < 40; i += 1) await tenantJob.create({ tenant: 'a' }).dispatch(driver);
    for (const tenant of ['b', 'c']) for (let i = 0; i < 5; i += 1) await tenantJob.create({ tenant }).dispatch(driver);
    const groupKey = (r: Reservation) => (r.envelope?.payload as { tenant: string } | undefined)?.tenant;
    startWorker({
      driver,
      jobs: [tenantJob],
      concurrency: 2,
      rateLimit: {
        store,
        queues: { default: { limit: 100, intervalMs: 1_000 } },
        groups: { default: { limit: 5, intervalMs: 1_000 } },
        groupKey,
      },
    });
    // The store's clock is frozen: each tenant has its 5 tokens and no more.
    await until(() => done.get('b') === 5 && done.get('c') === 5, 10_000);
    await until(() => done.get('a') === 5);
    await sleep(300);
    expect(Object.fromEntries(done)).toEqual({ a: 5, b: 5, c: 5 });
    now += 1_000;
    await until(() => done.get('a') === 10, 10_000);
    await sleep(300);
    expect(done.get('a')).toBe(10);
  });

  it('refuses groupKey without groups, naming both options', () => {
    const driver = createMemoryDriver();
    expect(
      () => new Worker({ driver, jobs: [], rateLimit: { store: new MemoryRateLimitStore(), queues: {}, groupKey: () => 'x' } }),
    ).toThrowError(/groupKey and groups go together/);
  });

  it('when a settle call fails, reports the error, carries on, and the job returns after its lease as the same attempt', async () => {
    // One job per call, so the failing call is the job's own ack.
    const driver = createMemoryDriver({ batch: false });
    const realAck = driver.ack.bind(driver);
    let failAcks = 1;
    driver.ack = async (reservation) => {
      if (failAcks > 0) {
        failAcks -= 1;
        throw new DriverConnectionError('memory: connection reset while acknowledging');
      }
      return realAck(reservation);
    };
    const attempts: number[] = [];
    const once = defineJob('once', async (_p: {}, ctx) => {
      attempts.push(ctx.attempt);
    });
    await once.create({}).attempts(3).dispatch(driver);
    const { worker } = startWorker({ driver, jobs: [once], leaseMs: 100, heartbeatMs: 60_000 });
    const errors: string[] = [];
    const completed: number[] = [];
    worker.on('error', (e) => errors.push(`${e.during}: ${e.error.message}`));
    worker.on('completed', (e) => completed.push(e.attempt));
    await until(() => completed.length === 1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/settling job .*: memory: connection reset/);
    // The unsettled run was lost, not failed: the job runs again as attempt 1.
    expect(attempts).toEqual([1, 1]);
    expect(completed).toEqual([1]);
  });

  it('rejects invalid options naming the key', () => {
    const driver: QueueDriver = createMemoryDriver();
    expect(() => new Worker({ driver, jobs: [], concurrency: 0 })).toThrowError('concurrency');
    expect(() => new Worker({ driver, jobs: [], queues: ['no spaces'] })).toThrowError('queues');
    expect(() => new Worker({ driver, jobs: [], leaseMs: -1 })).toThrowError('leaseMs');
  });

  describe.each([
    { batch: false, via: 'ack()' },
    { batch: true, via: 'ackAndClaim()' },
  ])('settling in the background (maxSettling), acks through $via', ({ batch }) => {
    /**
     * `jobs` queued jobs of a handler that logs each run and counts how many run at once, on a
     * memory driver whose acks take `ackMs` and log when each starts and ends.
     */
    async function scene(ackMs: number, jobs: number) {
      const log: string[] = [];
      const running = { now: 0, max: 0 };
      const driver = createMemoryDriver({ batch });
      const n = (reservation: Reservation) => (reservation.envelope!.payload as { n: number }).n;
      const ack = driver.ack.bind(driver);
      driver.ack = async (reservation) => {
        log.push(`ack-start ${n(reservation)}`);
        await sleep(ackMs);
        await ack(reservation);
        log.push(`ack-end ${n(reservation)}`);
      };
      const ackAndClaim = driver.ackAndClaim.bind(driver);
      driver.ackAndClaim = async (acks, queues, options) => {
        for (const reservation of acks) log.push(`ack-start ${n(reservation)}`);
        await sleep(ackMs);
        const result = await ackAndClaim(acks, queues, options);
        for (const reservation of acks) log.push(`ack-end ${n(reservation)}`);
        return result;
      };
      const step = defineJob('step', async ({ n }: { n: number }) => {
        running.now += 1;
        running.max = Math.max(running.max, running.now);
        log.push(`run ${n}`);
        await sleep(1);
        running.now -= 1;
      });
      for (let n = 1; n <= jobs; n += 1) await step.create({ n }).dispatch(driver);
      return { log, running, driver, step };
    }

    it('starts the next job while the previous one is still being acknowledged, one handler at a time', async () => {
      const { log, running, driver, step } = await scene(40, 4);
      const { worker } = startWorker({ driver, jobs: [step], concurrency: 1 });
      let completed = 0;
      worker.on('completed', () => {
        completed += 1;
      });
      await until(() => completed === 4);
      expect(running.max).toBe(1);
      // Job 2 ran before job 1's ack came back: the settle went on in the background.
      expect(log.indexOf('run 2')).toBeLessThan(log.indexOf('ack-end 1'));
      expect(await driver.stats?.('default')).toMatchObject({ ready: 0, reserved: 0 });
    });

    it('with maxSettling 0 acknowledges each job before taking the next', async () => {
      const { log, driver, step } = await scene(20, 3);
      const { worker } = startWorker({ driver, jobs: [step], concurrency: 1, maxSettling: 0 });
      let completed = 0;
      worker.on('completed', () => {
        completed += 1;
      });
      await until(() => completed === 3);
      expect(log).toEqual(['run 1', 'ack-start 1', 'ack-end 1', 'run 2', 'ack-start 2', 'ack-end 2', 'run 3', 'ack-start 3', 'ack-end 3']);
    });

    it('waits for a settle slot once maxSettling acks are in flight, and stop() waits for them all', async () => {
      const { log, driver, step } = await scene(60, 6);
      const { worker, done } = startWorker({ driver, jobs: [step], concurrency: 1, maxSettling: 2 });
      await until(() => log.includes('run 4'));
      // Jobs 1-3 were done before job 4 ran; at most two of them may still have been settling.
      const ended = log.slice(0, log.indexOf('run 4')).filter((line) => line.startsWith('ack-end')).length;
      expect(ended).toBeGreaterThanOrEqual(1);
      await until(() => log.includes('run 6'));
      await worker.stop();
      await done;
      expect(log.filter((line) => line.startsWith('ack-end'))).toHaveLength(6);
      expect(worker.inFlight).toBe(0);
    });

    it('refuses a maxSettling that is not a whole number >= 0', () => {
      const driver = createMemoryDriver();
      expect(() => new Worker({ driver, jobs: [], maxSettling: -1 })).toThrow(/maxSettling/);
      expect(() => new Worker({ driver, jobs: [], maxSettling: 1.5 })).toThrow(/maxSettling/);
    });
  });
});

describe('Worker groups', () => {
  it('refuses groups on a driver that cannot enforce them in its claims, and a concurrency that is not an integer >= 1', () => {
    const memory = createMemoryDriver();
    const job = defineJob('noop', async () => undefined);
    const without = { ...memory, name: 'plain', capabilities: { ...memory.capabilities, groups: false } } as unknown as QueueDriver;
    expect(() => new Worker({ driver: without, jobs: [job], groups: { concurrency: 1 } })).toThrowError(
      'worker option groups: the plain driver cannot enforce per-group concurrency',
    );
    expect(() => new Worker({ driver: memory, jobs: [job], groups: { concurrency: 0 } })).toThrowError('groups.concurrency');
    expect(() => new Worker({ driver: memory, jobs: [job], groups: { concurrency: 1.5 } })).toThrowError('groups.concurrency');
    expect(new Worker({ driver: memory, jobs: [job], groups: { concurrency: 2 } })).toBeInstanceOf(Worker);
  });

  it('tells the driver its per-group concurrency with every claim', async () => {
    const driver = createMemoryDriver();
    const seen: (number | undefined)[] = [];
    const claim = driver.claim.bind(driver);
    driver.claim = (queues, options) => {
      seen.push(options.groupConcurrency);
      return claim(queues, options);
    };
    const job = defineJob('noop', async () => undefined);
    await job.create({}).group('a').dispatch(driver);
    const { worker } = startWorker({ driver, jobs: [job], groups: { concurrency: 3 } });
    await until(() => worker.processed === 1);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([3]));
  });
});

describe('Worker rate limits and leases', () => {
  it('keeps renewing the lease of a job that waits for a rate-limit token, so it is not taken for lost', async () => {
    const now = 1_000_000;
    const store = new MemoryStore();
    const driver = createMemoryDriver({ store });
    const limits = new MemoryRateLimitStore({ now: () => now });
    const attempts: [string, number][] = [];
    const limited = defineJob('limited', async (_p: {}, ctx) => {
      attempts.push([ctx.id, ctx.attempt]);
    });
    await limited.create({}).dispatch(driver);
    await limited.create({}).dispatch(driver);
    // Both slots see the one token and reserve a job each; the second waits for a token longer than its lease.
    const worker = new Worker({
      driver,
      jobs: [limited],
      concurrency: 2,
      leaseMs: 150,
      waitMs: 50,
      rateLimit: { store: limits, queues: { default: { limit: 1, intervalMs: 60_000 } } },
    });
    const running = worker.run();
    try {
      await until(() => attempts.length === 1);
      await until(async () => (await driver.stats('default')).reserved === 1);
      await sleep(500);
      const other = createMemoryDriver({ store });
      expect(await other.reserve(['default'], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
      expect(attempts).toHaveLength(1);
    } finally {
      await worker.stop({ graceMs: 0 });
      await running;
    }
    expect(await driver.stats('default')).toMatchObject({ ready: 1, reserved: 0 });
  });
});
