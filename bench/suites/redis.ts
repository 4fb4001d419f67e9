import * as core from '@queuekit/core';
import { createEnvelope, type JobEnvelope } from '@queuekit/core';
import * as driverRedis from '@queuekit/driver-redis';
import { createRedisDriver, type RedisDriver } from '@queuekit/driver-redis';
import { Worker as BullWorker, Queue } from 'bullmq';
import { type BenchRow, flag, localServerCpu, nowMs, percentile, processCost, report, sleep } from '../lib.js';
import { type BenchSystem, type CoreModule, payload, queuekitSystem, tag, until } from '../queuekit-system.js';
import { deleteKeys } from '../redis-keys.js';

/** Settings of the suite, from its command-line flags. */
export interface Settings {
  readonly jobs: number;
  readonly latencyJobs: number;
  readonly rounds: number;
  readonly url: string;
}

/** A system under test; the bare driver loop has no enqueue figures of its own. */
export type System = Omit<BenchSystem, 'enqueueSingle' | 'enqueueBulk'> & Partial<Pick<BenchSystem, 'enqueueSingle' | 'enqueueBulk'>>;

/** Reads the suite's flags. */
export function parse(args: string[]): Settings {
  const value = (name: string) => flag(args, name);
  return {
    jobs: Number(value('--jobs') ?? 10_000),
    latencyJobs: Number(value('--latency-jobs') ?? 1_000),
    rounds: Number(value('--rounds') ?? 3),
    url: value('--url') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

/** The builds a queuekit system runs: this checkout's by default, or another checkout's (bench/ab.ts). */
export interface RedisModules {
  readonly core: CoreModule;
  readonly driver: Pick<typeof driverRedis, 'createRedisDriver'>;
}

function queuekit(settings: Settings, modules: RedisModules = { core, driver: driverRedis }, keepNone = false): System {
  const keyPrefix = `qkbench-${tag()}`;
  return queuekitSystem(
    keepNone ? 'queuekit-redis-keep-none' : 'queuekit-redis',
    () => modules.driver.createRedisDriver({ connection: settings.url, keyPrefix, ...(keepNone ? { retention: false as const } : {}) }),
    () => deleteKeys(settings.url, `${keyPrefix}:*`),
    modules.core,
    localServerCpu(Number(new URL(settings.url).port || 6379)),
  );
}

/** The systems bench/ab.ts can run one at a time: queuekit (with the given builds) and BullMQ. */
export function makeSystem(name: string, settings: Settings, modules?: RedisModules): System {
  if (name === 'queuekit-redis') return queuekit(settings, modules);
  // The same driver keeping no completed jobs: what the default retention costs.
  if (name === 'queuekit-redis-keep-none') return queuekit(settings, modules, true);
  if (name === 'bullmq') return bullmq(settings);
  throw new Error(`redis bench: no system ${JSON.stringify(name)} (queuekit-redis, queuekit-redis-keep-none, bullmq)`);
}

/**
 * The same driver without the core Worker: `concurrency` loops of reserve() → ack(). Not a
 * competitor row; it shows how much of the processing time the Worker's own machinery takes.
 */
function driverLoop(settings: Settings): System {
  const keyPrefix = `qkbench-${tag()}`;
  const producer: RedisDriver = createRedisDriver({ connection: settings.url, keyPrefix });
  const consume = async (
    driver: RedisDriver,
    queue: string,
    concurrency: number,
    onJob: (envelope: JobEnvelope) => void,
    stop: () => boolean,
  ) => {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (!stop()) {
          const reservation = await driver.reserve([queue], { leaseMs: 30_000, waitMs: 200 });
          if (reservation === undefined) continue;
          onJob(reservation.envelope!);
          await driver.ack(reservation);
        }
      }),
    );
  };
  return {
    name: 'queuekit-redis-driver-loop',
    async process(count, concurrency) {
      const queue = `process-${tag()}`;
      for (let i = 0; i < count; i += 1_000) {
        await producer.push(
          Array.from({ length: Math.min(1_000, count - i) }, (_, j) => createEnvelope({ name: 'noop', queue, payload: payload(i + j) })),
        );
      }
      const driver = createRedisDriver({ connection: settings.url, keyPrefix });
      let first = 0;
      let last = 0;
      let done = 0;
      await consume(
        driver,
        queue,
        concurrency,
        () => {
          if (first === 0) first = nowMs();
          done += 1;
          if (done === count) last = nowMs();
        },
        () => done >= count,
      );
      const elapsed = last - first;
      await driver.close();
      return count / (elapsed / 1000);
    },
    async latency(count) {
      const queue = `latency-${tag()}`;
      const driver = createRedisDriver({ connection: settings.url, keyPrefix });
      const latencies: number[] = [];
      const running = consume(
        driver,
        queue,
        1,
        (envelope) => latencies.push(nowMs() - (envelope.payload as { sentAt: number }).sentAt),
        () => latencies.length >= count,
      );
      await sleep(200);
      for (let i = 0; i < count; i += 1) {
        await producer.push([createEnvelope({ name: 'noop', queue, payload: { sentAt: nowMs(), ...payload(i) } })]);
        await sleep(2);
      }
      await running;
      await driver.close();
      return latencies;
    },
    async cleanup() {
      await producer.close();
      await deleteKeys(settings.url, `${keyPrefix}:*`);
    },
  };
}

function bullmq(settings: Settings): System {
  const prefix = `bullbench-${tag()}`;
  const url = new URL(settings.url);
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  const queues: Queue[] = [];
  const open = (name: string): Queue => {
    const queue = new Queue(name, { connection, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
    queues.push(queue);
    return queue;
  };
  return {
    name: 'bullmq',
    async enqueueSingle(count) {
      const queue = open(`single-${tag()}`);
      await queue.waitUntilReady();
      const started = nowMs();
      for (let i = 0; i < count; i += 1) await queue.add('noop', payload(i));
      return count / ((nowMs() - started) / 1000);
    },
    async enqueueBulk(count) {
      const queue = open(`bulk-${tag()}`);
      await queue.waitUntilReady();
      const batches: { name: string; data: ReturnType<typeof payload> }[][] = [];
      for (let i = 0; i < count; i += 1_000)
        batches.push(Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ name: 'noop', data: payload(i + j) })));
      const started = nowMs();
      for (const batch of batches) await queue.addBulk(batch);
      return count / ((nowMs() - started) / 1000);
    },
    async process(count, concurrency) {
      const name = `process-${tag()}`;
      const queue = open(name);
      for (let i = 0; i < count; i += 1_000) {
        await queue.addBulk(Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ name: 'noop', data: payload(i + j) })));
      }
      let first = 0;
      let last = 0;
      let done = 0;
      const worker = new BullWorker(
        name,
        async () => {
          if (first === 0) first = nowMs();
        },
        { connection, prefix, concurrency, autorun: false },
      );
      worker.on('completed', () => {
        done += 1;
        last = nowMs();
      });
      void worker.run();
      await until(() => done >= count, 120_000, 'BullMQ processing');
      await worker.close();
      return count / ((last - first) / 1000);
    },
    async latency(count) {
      const name = `latency-${tag()}`;
      const queue = open(name);
      const latencies: number[] = [];
      const worker = new BullWorker(
        name,
        async (job) => {
          latencies.push(nowMs() - (job.data as { sentAt: number }).sentAt);
        },
        { connection, prefix, concurrency: 1, autorun: false },
      );
      void worker.run();
      await worker.waitUntilReady();
      await sleep(200);
      for (let i = 0; i < count; i += 1) {
        await queue.add('noop', { sentAt: nowMs(), ...payload(i) });
        await sleep(2);
      }
      await until(() => latencies.length >= count, 30_000, 'BullMQ latency run');
      await worker.close();
      return latencies;
    },
    async cleanup() {
      for (const queue of queues) {
        await queue.obliterate({ force: true }).catch(() => undefined);
        await queue.close();
      }
      await deleteKeys(settings.url, `${prefix}:*`);
    },
  };
}

type Figures = Omit<BenchRow, 'system'> & Record<string, number>;

/** Every figure of one system in one round. */
export async function measure(system: System, settings: Settings): Promise<Figures> {
  const enqueueSingleJps = system.enqueueSingle === undefined ? Number.NaN : await system.enqueueSingle(settings.jobs);
  const enqueueBulkJps = system.enqueueBulk === undefined ? Number.NaN : await system.enqueueBulk(settings.jobs);
  const process1Jps = await system.process(settings.jobs, 1);
  const cost1 = system.lastProcessCost?.();
  const process50Jps = await system.process(settings.jobs, 50);
  const cost50 = system.lastProcessCost?.();
  const latencies = await system.latency(settings.latencyJobs);
  return {
    enqueueSingleJps,
    enqueueBulkJps,
    process1Jps,
    process50Jps,
    ...processCost(cost1, cost50),
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs the suite: both systems on the same Redis, taking turns for `rounds` rounds. */
export async function run(args: string[]): Promise<void> {
  const settings = parse(args);
  console.log(`redis bench: ${settings.jobs} jobs, ${settings.latencyJobs} latency jobs, ${settings.rounds} rounds, ${settings.url}`);
  const systems = [queuekit(settings), bullmq(settings), ...(args.includes('--no-driver-loop') ? [] : [driverLoop(settings)])];
  const results = new Map<string, Figures[]>(systems.map((system) => [system.name, []]));
  try {
    // A short warm-up so neither side pays for JIT compilation and script loading in the figures.
    for (const system of systems) await system.process(500, 10);
    for (let round = 0; round < settings.rounds; round += 1) {
      const order = round % 2 === 0 ? systems : [...systems].reverse();
      for (const system of order) {
        const figures = await measure(system, settings);
        results.get(system.name)!.push(figures);
        console.log(
          `  round ${round + 1} ${system.name}: ${Object.entries(figures)
            .map(([k, v]) => `${k}=${Number(v).toFixed(2)}`)
            .join(' ')}`,
        );
      }
    }
  } finally {
    for (const system of systems) await system.cleanup();
  }
  const rows: BenchRow[] = systems.map((system) => {
    const rounds = results.get(system.name)!;
    const row: Record<string, number | string> = { system: system.name };
    for (const key of Object.keys(rounds[0] ?? {})) {
      const value = median(rounds.map((figures) => figures[key]!));
      if (!Number.isNaN(value)) row[key] = value;
    }
    return row as BenchRow;
  });
  report('redis', rows, ['bullmq']);
}
