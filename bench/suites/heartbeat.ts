import type { QueueDriver } from '@queuekit/core';
import * as core from '@queuekit/core';
import * as driverRedis from '@queuekit/driver-redis';
import { Redis } from 'ioredis';
import { flag, nowMs, sleep } from '../lib.js';
import { type CoreModule, payload, tag, until } from '../queuekit-system.js';
import { deleteKeys } from '../redis-keys.js';

/**
 * What the lease heartbeat costs at concurrency 50: 50 jobs of `jobMs` each run at once on Redis,
 * their leases renewed every leaseMs / 3. System `batched` renews every due lease of a tick in one
 * extendMany() call; `per-job` hides extendMany, so the Worker sends one extend() per job, as
 * before. Figures per second of the run: renewal calls, Redis commands, and the worker's CPU time.
 * Run with bench/ab.ts (`pnpm ab heartbeat`), a fresh process per system and round.
 */

/** Settings of the suite, from its command-line flags. */
export interface Settings {
  readonly url: string;
  readonly concurrency: number;
  readonly jobMs: number;
  readonly leaseMs: number;
}

/** Reads the suite's flags. */
export function parse(args: string[]): Settings {
  return {
    url: flag(args, '--url') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    concurrency: Number(flag(args, '--concurrency') ?? 50),
    jobMs: Number(flag(args, '--job-ms') ?? 3_000),
    leaseMs: Number(flag(args, '--lease-ms') ?? 3_000),
  };
}

/** The builds a system runs. */
export interface HeartbeatModules {
  readonly core: CoreModule;
  readonly driver: Pick<typeof driverRedis, 'createRedisDriver'>;
}

/** One system: the Worker renewing leases with or without extendMany. */
export interface System {
  readonly name: string;
  process(count: number, concurrency: number): Promise<number>;
  run(): Promise<Record<string, number>>;
  cleanup(): Promise<void>;
}

/** `batched` or `per-job`. */
export function makeSystem(name: string, settings: Settings, modules: HeartbeatModules = { core, driver: driverRedis }): System {
  if (name !== 'batched' && name !== 'per-job') throw new Error(`heartbeat bench: no system ${JSON.stringify(name)} (batched, per-job)`);
  const keyPrefix = `qkbench-${tag()}`;
  const { createEnvelope, defineJob, Worker } = modules.core;
  let renewals = 0;
  const open = (): QueueDriver => {
    const driver = modules.driver.createRedisDriver({ connection: settings.url, keyPrefix });
    const extend = driver.extend.bind(driver);
    driver.extend = (reservation, leaseMs) => {
      renewals += 1;
      return extend(reservation, leaseMs);
    };
    if (name === 'per-job') {
      // The same driver without extendMany: the Worker falls back to one extend() per job.
      return new Proxy(driver, {
        get(target, key) {
          if (key === 'extendMany') return undefined;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    }
    const extendMany = driver.extendMany.bind(driver);
    driver.extendMany = (reservations, leaseMs) => {
      renewals += 1;
      return extendMany(reservations, leaseMs);
    };
    return driver;
  };
  /** Runs `count` jobs of `jobMs` at `concurrency`; resolves the wall time in ms. */
  const runJobs = async (count: number, concurrency: number, jobMs: number): Promise<number> => {
    const queue = `hb-${tag()}`;
    const producer = modules.driver.createRedisDriver({ connection: settings.url, keyPrefix });
    await producer.push(Array.from({ length: count }, (_, i) => createEnvelope({ name: 'hold', queue, payload: payload(i) })));
    await producer.close();
    const driver = open();
    let done = 0;
    const hold = defineJob('hold', () => sleep(jobMs));
    const worker = new Worker({ driver, jobs: [hold], queues: [queue], concurrency, leaseMs: settings.leaseMs, waitMs: 200 });
    worker.on('completed', () => {
      done += 1;
    });
    const started = nowMs();
    const running = worker.run();
    await until(() => done >= count, 120_000, 'heartbeat jobs');
    const elapsed = nowMs() - started;
    await worker.stop();
    await running;
    await driver.close();
    return elapsed;
  };
  return {
    name,
    async process(count, concurrency) {
      const elapsed = await runJobs(count, concurrency, 0);
      return count / (elapsed / 1000);
    },
    async run() {
      const redis = new Redis(settings.url);
      const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);
      renewals = 0;
      const commandsBefore = await commands();
      const cpuBefore = process.cpuUsage();
      const elapsed = await runJobs(settings.concurrency, settings.concurrency, settings.jobMs);
      const cpu = process.cpuUsage(cpuBefore);
      const seconds = elapsed / 1000;
      const figures = {
        renewalCallsPerS: renewals / seconds,
        redisCommandsPerS: ((await commands()) - commandsBefore) / seconds,
        workerCpuMsPerS: (cpu.user + cpu.system) / 1000 / seconds,
      };
      await redis.quit();
      return figures;
    },
    async cleanup() {
      await deleteKeys(settings.url, `${keyPrefix}:*`);
    },
  };
}

/** The figures of one round. */
export function measure(system: System): Promise<Record<string, number>> {
  return system.run();
}
