/**
 * Overhead of the InstrumentedQueueDecorator on the memory and Redis drivers:
 *
 *   pnpm bench instrumentation [--blocks 40] [--cycles 1000] [--jobs 500] [--redis-cycles 200]
 *                              [--redis-jobs 300] [--calls 100000] [--only memory,redis] [--url redis://127.0.0.1:6379]
 *
 * Three modes per driver: `bare` (the driver itself), `noop` (decorated, no OpenTelemetry SDK in the
 * process: what an application that never installs one pays) and `sdk` (decorated, with an SDK set
 * up the way production does it: AsyncLocalStorage context manager, W3C propagator, a batching span
 * processor and a periodic metric reader, both exporting to memory; every span sampled).
 *
 * Columns (jobs/s): cycleJps (push + reserve + ack of one job at a time, awaited in turn),
 * worker1Jps / worker16Jps (the core Worker draining jobs enqueued beforehand through the same
 * driver, concurrency 1 / 16, from run() to its return; enqueueing is not timed).
 *
 * The modes run in small interleaved blocks (`--blocks` of each, the order rotating per block), the
 * SDK registered globally only during `sdk` blocks, so load from elsewhere on the machine falls on
 * all modes alike. Throughput is total jobs over total time per mode; the overhead table gives, per
 * mode, the median over blocks of the throughput lost against the `bare` block next to it — the
 * target being at most 5% for `noop`. On a busy machine the per-block spread is wide; the last
 * figure is steadier: the decorator's fixed cost per job in µs, measured on a driver that does
 * nothing (every call resolves at once), to set against a driver's own cost per job.
 */
import { randomBytes } from 'node:crypto';
import { createEnvelope, defineJob, instrumentDriver, type JobEnvelope, type QueueDriver, Worker } from '@queuekit/core';
import { createMemoryDriver } from '@queuekit/core/testing';
import { createRedisDriver } from '@queuekit/driver-redis';
// The SDK comes from core's test fixtures, the same one its tests use.
import { createTestSdk } from '../../packages/core/test/fixtures/instrumentation-sdk.js';
import { type BenchRow, flag, nowMs, percentile, report } from '../lib.js';
import { deleteKeys } from '../redis-keys.js';

type Mode = 'bare' | 'noop' | 'sdk';
type Backend = 'memory' | 'redis';
const MODES: readonly Mode[] = ['bare', 'noop', 'sdk'];

interface Settings {
  readonly blocks: number;
  readonly cycles: number;
  readonly jobs: number;
  readonly redisCycles: number;
  readonly redisJobs: number;
  readonly calls: number;
  readonly only: readonly Backend[];
  readonly url: string;
}

const tag = () => randomBytes(4).toString('hex');
const payload = (i: number) => ({ userId: `user-${i}`, kind: 'welcome', flags: [1, 2, 3] });
const noopJob = defineJob('noop', async () => undefined);

function parse(args: string[]): Settings {
  const value = (name: string) => flag(args, name);
  return {
    blocks: Number(value('--blocks') ?? 40),
    cycles: Number(value('--cycles') ?? 1_000),
    jobs: Number(value('--jobs') ?? 500),
    redisCycles: Number(value('--redis-cycles') ?? 200),
    redisJobs: Number(value('--redis-jobs') ?? 300),
    calls: Number(value('--calls') ?? 100_000),
    only: (value('--only')?.split(',') as Backend[] | undefined) ?? ['memory', 'redis'],
    url: value('--url') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

/** Push, reserve and ack `count` jobs one at a time; returns the elapsed ms. */
async function cycles(driver: QueueDriver, queue: string, count: number): Promise<number> {
  const started = nowMs();
  for (let i = 0; i < count; i += 1) {
    await driver.push([createEnvelope({ name: 'noop', queue, payload: payload(i) })]);
    const reservation = await driver.reserve([queue], { leaseMs: 30_000, waitMs: 0 });
    if (reservation === undefined) throw new Error('bench: a pushed job was not reserved');
    await driver.ack(reservation);
  }
  return nowMs() - started;
}

/** Enqueues `count` jobs in one push (not timed), then times a Worker draining them; returns the elapsed ms. */
async function drain(driver: QueueDriver, queue: string, count: number, concurrency: number): Promise<number> {
  const batch: JobEnvelope[] = [];
  for (let i = 0; i < count; i += 1) batch.push(createEnvelope({ name: 'noop', queue, payload: payload(i) }));
  await driver.push(batch);
  let completed = 0;
  const worker = new Worker({ driver, jobs: [noopJob], queues: [queue], concurrency, waitMs: 0, stopWhenEmpty: true });
  worker.on('completed', () => {
    completed += 1;
  });
  const started = nowMs();
  await worker.run();
  const elapsed = nowMs() - started;
  if (completed !== count) throw new Error(`bench: the worker completed ${completed} of ${count} jobs`);
  return elapsed;
}

interface Task {
  readonly measure: string;
  readonly count: number;
  readonly run: (driver: QueueDriver, queue: string) => Promise<number>;
}

async function benchBackend(backend: Backend, settings: Settings): Promise<{ rows: BenchRow[]; overhead: string[][] }> {
  const keyPrefix = `qkbench-otel-${tag()}`;
  const open = (): QueueDriver =>
    backend === 'memory' ? createMemoryDriver() : createRedisDriver({ connection: settings.url, keyPrefix });
  const sdk = createTestSdk({ exporting: true });
  // `noop` is decorated while no SDK is registered (its meter is then the API's no-op one); `sdk`
  // records into the SDK's meter provider and, during its blocks, the globally registered tracer.
  const drivers: Record<Mode, QueueDriver> = {
    bare: open(),
    noop: instrumentDriver(open()),
    sdk: instrumentDriver(open(), { meterProvider: sdk.meterProvider }),
  };
  const cycleCount = backend === 'memory' ? settings.cycles : settings.redisCycles;
  const jobCount = backend === 'memory' ? settings.jobs : settings.redisJobs;
  const tasks: Task[] = [
    { measure: 'cycleJps', count: cycleCount, run: (driver, queue) => cycles(driver, queue, cycleCount) },
    { measure: 'worker1Jps', count: jobCount, run: (driver, queue) => drain(driver, queue, jobCount, 1) },
    { measure: 'worker16Jps', count: jobCount, run: (driver, queue) => drain(driver, queue, jobCount, 16) },
  ];
  const rows = new Map<Mode, Record<string, number | string>>(MODES.map((mode) => [mode, { system: `${backend}-${mode}` }]));
  const overhead: string[][] = [];
  const lost = new Map<string, number[]>();
  const best = new Map<string, number>();
  try {
    for (const task of tasks) {
      const elapsed = new Map<Mode, number>(MODES.map((mode) => [mode, 0]));
      const runBlock = async (mode: Mode, record: boolean): Promise<number> => {
        if (mode === 'sdk') sdk.register();
        try {
          const ms = await task.run(drivers[mode], `${task.measure}-${mode}-${tag()}`);
          if (record) elapsed.set(mode, (elapsed.get(mode) ?? 0) + ms);
          return ms;
        } finally {
          if (mode === 'sdk') {
            sdk.unregister();
            sdk.spans.reset();
          }
        }
      };
      // Warm-up blocks (JIT, connections), not recorded.
      for (let i = 0; i < 3; i += 1) for (const mode of MODES) await runBlock(mode, false);
      for (let block = 0; block < settings.blocks; block += 1) {
        const ms = new Map<Mode, number>();
        for (let i = 0; i < MODES.length; i += 1) {
          const mode = MODES[(i + block) % MODES.length] as Mode;
          ms.set(mode, await runBlock(mode, true));
        }
        for (const mode of MODES) {
          const key = `${task.measure}:${mode}`;
          best.set(key, Math.min(best.get(key) ?? Number.POSITIVE_INFINITY, ms.get(mode) as number));
        }
        const bare = ms.get('bare') as number;
        for (const mode of ['noop', 'sdk'] as const) {
          // Throughput lost = 1 - bare time / mode time, per block.
          const key = `${task.measure}:${mode}`;
          lost.set(key, [...(lost.get(key) ?? []), 1 - bare / (ms.get(mode) as number)]);
        }
      }
      for (const mode of MODES) {
        const row = rows.get(mode) as Record<string, number | string>;
        row[task.measure] = (task.count * settings.blocks) / ((elapsed.get(mode) as number) / 1000);
      }
      console.error(`instrumentation: ${backend} ${task.measure} done`);
    }
    for (const mode of ['noop', 'sdk'] as const) {
      overhead.push([
        backend,
        mode,
        ...tasks.map((task) => {
          const values = lost.get(`${task.measure}:${mode}`) ?? [];
          const fastest = 1 - (best.get(`${task.measure}:bare`) as number) / (best.get(`${task.measure}:${mode}`) as number);
          const pct = (value: number) => (value * 100).toFixed(1);
          return `${pct(percentile(values, 50))}% [${pct(percentile(values, 25))}..${pct(percentile(values, 75))}] best ${pct(fastest)}%`;
        }),
      ]);
    }
  } finally {
    await Promise.all(MODES.map((mode) => drivers[mode].close()));
    await sdk.shutdown();
    if (backend === 'redis') await deleteKeys(settings.url, `${keyPrefix}:*`);
  }
  return { rows: MODES.map((mode) => rows.get(mode) as BenchRow), overhead };
}

export async function run(args: string[]): Promise<void> {
  const settings = parse(args);
  const rows: BenchRow[] = [];
  const overhead: string[][] = [['driver', 'mode', 'cycle: lost vs bare', 'worker c1: lost vs bare', 'worker c16: lost vs bare']];
  const perCall = await measurePerCall(settings);
  for (const backend of settings.only) {
    const result = await benchBackend(backend, settings);
    rows.push(...result.rows);
    overhead.push(...result.overhead);
  }
  report('instrumentation', rows, []);
  console.log(
    '\nthroughput lost against the bare driver: median over interleaved blocks [p25..p75], and best block against best block (negative = faster, i.e. noise):',
  );
  const widths = (overhead[0] ?? []).map((_, col) => Math.max(...overhead.map((line) => (line[col] ?? '').length)));
  for (const line of overhead) console.log(line.map((cell, col) => cell.padStart(widths[col] ?? 0)).join('  '));
  console.log(
    `\nfixed cost of the decorator per job (push + reserve + aroundExecution + ack on a driver that does nothing, ${settings.calls.toLocaleString('en-US')} cycles, best of ${PER_CALL_ROUNDS}):`,
  );
  for (const mode of MODES) console.log(`  ${mode.padEnd(4)}  ${perCall[mode].toFixed(2)} µs per job`);
  console.log(
    `  noop adds ${(perCall.noop - perCall.bare).toFixed(2)} µs per job; sdk adds ${(perCall.sdk - perCall.bare).toFixed(2)} µs per job`,
  );
}

const PER_CALL_ROUNDS = 7;

/** A driver whose every call resolves at once with a fixed answer: what remains is the decorator's own cost. */
function nullDriver(): QueueDriver {
  const envelope = createEnvelope({ name: 'noop', queue: 'null', payload: payload(0) });
  const reservation = { token: 't', id: envelope.id, queue: 'null', attempt: 1, lostDeliveries: 0, leaseExpiresAt: 0, envelope };
  const pushed = Promise.resolve({ pushed: [envelope.id], skipped: [] });
  const reserved = Promise.resolve(reservation);
  const done = Promise.resolve();
  const memory = createMemoryDriver();
  return {
    name: 'null',
    // One job per call: this measures the decorator's per-call cost.
    capabilities: { ...memory.capabilities, batch: false },
    deadLetters: memory.deadLetters,
    push: () => pushed,
    reserve: () => reserved,
    ack: () => done,
    release: () => done,
    giveBack: () => Promise.resolve(0),
    extend: () => Promise.resolve(0),
    deadLetter: () => done,
    stats: (queue) => memory.stats(queue),
    ping: () => Promise.resolve(0),
    purge: () => Promise.resolve(0),
    close: () => memory.close(),
  };
}

/** µs per push + reserve + aroundExecution(ack) cycle on the null driver, per mode: best of several interleaved rounds. */
async function measurePerCall(settings: Settings): Promise<Record<Mode, number>> {
  const sdk = createTestSdk({ exporting: true });
  const drivers: Record<Mode, QueueDriver> = {
    bare: nullDriver(),
    noop: instrumentDriver(nullDriver()),
    sdk: instrumentDriver(nullDriver(), { meterProvider: sdk.meterProvider }),
  };
  const envelope = createEnvelope({ name: 'noop', queue: 'null', payload: payload(0) });
  const result: Record<Mode, number> = { bare: Number.POSITIVE_INFINITY, noop: Number.POSITIVE_INFINITY, sdk: Number.POSITIVE_INFINITY };
  try {
    for (let round = 0; round < PER_CALL_ROUNDS + 1; round += 1) {
      for (let i = 0; i < MODES.length; i += 1) {
        const mode = MODES[(i + round) % MODES.length] as Mode;
        const driver = drivers[mode];
        if (mode === 'sdk') sdk.register();
        try {
          const started = nowMs();
          for (let n = 0; n < settings.calls; n += 1) {
            await driver.push([envelope]);
            const reservation = await driver.reserve(['null'], { leaseMs: 1_000, waitMs: 0 });
            if (reservation === undefined) throw new Error('bench: the null driver reserved nothing');
            const ack = () => driver.ack(reservation);
            await (driver.aroundExecution === undefined ? ack() : driver.aroundExecution(reservation, ack));
          }
          const us = ((nowMs() - started) * 1000) / settings.calls;
          // Round 0 warms up.
          if (round > 0) result[mode] = Math.min(result[mode], us);
        } finally {
          if (mode === 'sdk') {
            sdk.unregister();
            sdk.spans.reset();
          }
        }
      }
    }
  } finally {
    await sdk.shutdown();
  }
  return result;
}
