import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { defineJob, type JobEnvelope, type PushOptions, type QueueDriver, RetryPolicy, Worker, type WorkerOptions } from '../src/index.js';
import { InstrumentedQueueDecorator, instrumentDriver, METRIC } from '../src/instrumentation/index.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { createTestSdk, type TestSdk } from './fixtures/instrumentation-sdk.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const randomQueue = () => `q-${randomBytes(4).toString('hex')}`;

const sdks: TestSdk[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
  await Promise.all(sdks.splice(0).map((sdk) => sdk.shutdown()));
});

/** A memory driver decorated with a fresh in-memory meter provider (not registered globally). */
function setup() {
  const sdk = createTestSdk();
  sdks.push(sdk);
  const memory = createMemoryDriver();
  const driver = instrumentDriver(memory, { meterProvider: sdk.meterProvider, traces: false });
  return { sdk, memory, driver, queue: randomQueue() };
}

/** Runs a worker until the queue is drained (a reserve found nothing and no job is in flight). */
async function drain(options: WorkerOptions): Promise<void> {
  const worker = new Worker({ waitMs: 20, shutdownGraceMs: 1_000, stopWhenEmpty: true, ...options });
  workers.push(worker);
  await worker.run();
}

describe('InstrumentedQueueDecorator metrics', () => {
  it('is a QueueDriver with the wrapped driver’s name, capabilities and dead-letter store', () => {
    const memory = createMemoryDriver();
    const driver = new InstrumentedQueueDecorator(memory);
    expect(driver.name).toBe('memory');
    expect(driver.capabilities).toBe(memory.capabilities);
    expect(driver.deadLetters).toBe(memory.deadLetters);
    expect(driver.inner).toBe(memory);
    expect(instrumentDriver(driver)).toBe(driver);
  });

  it('counts enqueued, reserved, completed and reserve-empty, and times every step, through a successful job', async () => {
    const { sdk, driver, queue } = setup();
    const greet = defineJob('greet', async (payload: { who: string }) => `hello ${payload.who}`);
    await greet.create({ who: 'a' }).onQueue(queue).dispatch(driver);
    await greet.create({ who: 'b' }).onQueue(queue).dispatch(driver);
    await drain({ driver, jobs: [greet], queues: [queue] });

    const job = { 'messaging.system': 'memory', 'messaging.destination.name': queue, 'queuekit.job.name': 'greet' };
    expect(await sdk.sum(METRIC.enqueued, { ...job, 'messaging.operation.name': 'send' })).toBe(2);
    expect(await sdk.sum(METRIC.reserved, { ...job, 'messaging.operation.name': 'receive' })).toBe(2);
    expect(await sdk.sum(METRIC.completed, job)).toBe(2);
    expect(await sdk.sum(METRIC.failed)).toBe(0);
    expect(await sdk.sum(METRIC.retried)).toBe(0);
    expect(await sdk.sum(METRIC.deadLettered)).toBe(0);
    expect(await sdk.sum(METRIC.reserveEmpty, { 'messaging.system': 'memory' })).toBeGreaterThanOrEqual(1);

    expect(await sdk.count(METRIC.processDuration, { ...job, 'queuekit.job.outcome': 'completed' })).toBe(2);
    expect(await sdk.count(METRIC.processDuration)).toBe(2);
    expect(await sdk.count(METRIC.queueWait, job)).toBe(2);
    const operation = METRIC.operationDuration;
    expect(await sdk.count(operation, { ...job, 'messaging.operation.name': 'send', 'messaging.operation.type': 'send' })).toBe(2);
    // One timing per driver call: the Worker claims and acknowledges the two jobs in one or two calls.
    const receives = await sdk.count(operation, { ...job, 'messaging.operation.name': 'receive', 'queuekit.reserve.empty': false });
    expect(receives).toBeGreaterThanOrEqual(1);
    expect(receives).toBeLessThanOrEqual(2);
    expect(await sdk.count(operation, { 'messaging.operation.name': 'receive', 'queuekit.reserve.empty': true })).toBeGreaterThanOrEqual(1);
    const acks = await sdk.count(operation, { ...job, 'messaging.operation.name': 'ack', 'messaging.operation.type': 'settle' });
    expect(acks).toBeGreaterThanOrEqual(1);
    expect(acks).toBeLessThanOrEqual(2);
    const units = new Map((await sdk.points(METRIC.processDuration)).map((point) => [point.attributes['queuekit.job.outcome'], point]));
    expect(units.size).toBe(1);
  });

  it('counts a failure and a retry, then the completion, when a job fails once', async () => {
    const { sdk, driver, queue } = setup();
    let runs = 0;
    const flaky = defineJob('flaky', async () => {
      runs += 1;
      if (runs === 1) throw new TypeError('first attempt fails');
      return 'ok';
    });
    await flaky.create({}).onQueue(queue).attempts(3, RetryPolicy.fixed(0)).dispatch(driver);
    await drain({ driver, jobs: [flaky], queues: [queue] });

    expect(runs).toBe(2);
    const job = { 'messaging.destination.name': queue, 'queuekit.job.name': 'flaky' };
    expect(await sdk.sum(METRIC.enqueued, job)).toBe(1);
    expect(await sdk.sum(METRIC.reserved, job)).toBe(2);
    expect(await sdk.sum(METRIC.failed, { ...job, 'error.type': 'TypeError' })).toBe(1);
    expect(await sdk.sum(METRIC.retried, { ...job, 'error.type': 'TypeError' })).toBe(1);
    expect(await sdk.sum(METRIC.completed, job)).toBe(1);
    expect(await sdk.sum(METRIC.deadLettered)).toBe(0);
    expect(await sdk.count(METRIC.processDuration, { ...job, 'queuekit.job.outcome': 'retried', 'error.type': 'TypeError' })).toBe(1);
    expect(await sdk.count(METRIC.processDuration, { ...job, 'queuekit.job.outcome': 'completed' })).toBe(1);
    // availableAt stays the first one across retries, so only the first delivery has a queue wait.
    expect(await sdk.count(METRIC.queueWait, job)).toBe(1);
    expect(await sdk.count(METRIC.operationDuration, { ...job, 'messaging.operation.name': 'release' })).toBe(1);
  });

  it('counts every failed attempt, the retries between them and one dead-lettering when a job always fails', async () => {
    const { sdk, driver, memory, queue } = setup();
    const broken = defineJob('broken', async () => {
      throw new RangeError('always');
    });
    const job = broken.create({}).onQueue(queue).attempts(3, RetryPolicy.fixed(0));
    await job.dispatch(driver);
    await drain({ driver, jobs: [broken], queues: [queue] });

    expect(await memory.deadLetters.get(job.id)).toMatchObject({ reason: 'failed', attempts: 3 });
    const labels = { 'messaging.destination.name': queue, 'queuekit.job.name': 'broken', 'error.type': 'RangeError' };
    expect(await sdk.sum(METRIC.reserved, { 'messaging.destination.name': queue })).toBe(3);
    expect(await sdk.sum(METRIC.failed, labels)).toBe(3);
    expect(await sdk.sum(METRIC.retried, labels)).toBe(2);
    expect(await sdk.sum(METRIC.deadLettered, { ...labels, 'queuekit.dead_letter.reason': 'failed' })).toBe(1);
    expect(await sdk.sum(METRIC.completed)).toBe(0);
    expect(await sdk.count(METRIC.processDuration, { ...labels, 'queuekit.job.outcome': 'retried' })).toBe(2);
    expect(await sdk.count(METRIC.processDuration, { ...labels, 'queuekit.job.outcome': 'dead-lettered' })).toBe(1);
    expect(await sdk.count(METRIC.operationDuration, { 'messaging.operation.name': 'dead_letter' })).toBe(1);
  });

  it('counts a job handed back at shutdown as released, not as a failure or a retry', async () => {
    const { sdk, driver, queue } = setup();
    let started = false;
    const slow = defineJob('slow', async (_payload: {}, ctx) => {
      started = true;
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
    });
    await slow.create({}).onQueue(queue).dispatch(driver);
    const worker = new Worker({ driver, jobs: [slow], queues: [queue], waitMs: 20 });
    const running = worker.run();
    for (let i = 0; i < 500 && !started; i += 1) await sleep(5);
    expect(started).toBe(true);
    await worker.stop({ graceMs: 0 });
    await running;

    expect(await sdk.count(METRIC.processDuration, { 'queuekit.job.name': 'slow', 'queuekit.job.outcome': 'released' })).toBe(1);
    expect(await sdk.count(METRIC.operationDuration, { 'messaging.operation.name': 'release' })).toBe(1);
    expect(await sdk.sum(METRIC.failed)).toBe(0);
    expect(await sdk.sum(METRIC.retried)).toBe(0);
    expect(await sdk.sum(METRIC.completed)).toBe(0);
    expect((await driver.stats(queue)).ready).toBe(1);
  });

  it('counts dead-lettered poison bodies and unknown jobs as failures with their reason', async () => {
    const { sdk, driver, memory, queue } = setup();
    await memory.pushRaw(queue, '{not json');
    const stray = defineJob('stray', async () => 'never registered');
    await stray.create({}).onQueue(queue).dispatch(driver);
    await drain({ driver, jobs: [], queues: [queue] });

    expect(await sdk.sum(METRIC.deadLettered, { 'queuekit.dead_letter.reason': 'poison' })).toBe(1);
    expect(await sdk.sum(METRIC.deadLettered, { 'queuekit.dead_letter.reason': 'unknown-job', 'queuekit.job.name': 'stray' })).toBe(1);
    expect(await sdk.sum(METRIC.failed)).toBe(2);
    expect(await sdk.sum(METRIC.retried)).toBe(0);
  });

  it('counts a push skipped by its unique key as not enqueued, and a failed push with its error type', async () => {
    const { sdk, driver, queue } = setup();
    const once = defineJob('once', async () => undefined);
    await once.create({}).onQueue(queue).unique('k').dispatch(driver);
    const second = await once.create({}).onQueue(queue).unique('k').dispatch(driver);
    expect(second.skipped).toHaveLength(1);
    expect(await sdk.sum(METRIC.enqueued, { 'queuekit.job.name': 'once' })).toBe(1);

    await driver.close();
    await expect(once.create({}).onQueue(queue).dispatch(driver)).rejects.toThrow();
    expect(await sdk.sum(METRIC.enqueued, { 'queuekit.job.name': 'once', 'error.type': 'DriverClosedError' })).toBe(1);
    expect(await sdk.count(METRIC.operationDuration, { 'messaging.operation.name': 'send', 'error.type': 'DriverClosedError' })).toBe(1);
  });
});

describe('InstrumentedQueueDecorator with no SDK installed', () => {
  it('forwards migrate() only when the wrapped driver has one', async () => {
    expect(instrumentDriver(createMemoryDriver()).migrate).toBeUndefined();
    const migrating = Object.assign(createMemoryDriver(), { migrate: async () => ({ from: 1, to: 4, applied: [2, 3, 4] }) });
    expect(await instrumentDriver(migrating).migrate?.()).toEqual({ from: 1, to: 4, applied: [2, 3, 4] });
  });

  /** Records what reaches the wrapped driver's push. */
  function spyingDriver(): { driver: QueueDriver; pushed: (readonly JobEnvelope[])[] } {
    const memory = createMemoryDriver();
    const pushed: (readonly JobEnvelope[])[] = [];
    const push = memory.push.bind(memory);
    memory.push = (envelopes: readonly JobEnvelope[], options?: PushOptions) => {
      pushed.push(envelopes);
      return push(envelopes, options);
    };
    return { driver: memory, pushed };
  }

  it('hands the very same envelopes to the driver and runs jobs unchanged', async () => {
    const { driver: inner, pushed } = spyingDriver();
    const driver = instrumentDriver(inner);
    const queue = randomQueue();
    const echo = defineJob('echo', async (payload: { n: number }) => payload.n);
    const job = echo.create({ n: 1 }).onQueue(queue);
    const envelope = job.toEnvelope();
    await driver.push([envelope]);
    expect(pushed[0]?.[0]).toBe(envelope);
    expect(pushed[0]?.[0]?.trace).toBeUndefined();
    let completed = 0;
    const worker = new Worker({ driver, jobs: [echo], queues: [queue], waitMs: 20, stopWhenEmpty: true });
    worker.on('completed', () => {
      completed += 1;
    });
    workers.push(worker);
    await worker.run();
    expect(completed).toBe(1);
  });
});
