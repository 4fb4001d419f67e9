import * as core from '@queuekit/core';
import { fromBackend } from '@queuekit/core/driver';
import * as driverBeanstalk from '@queuekit/driver-beanstalk';
import { BeanstalkClient } from '@queuekit/driver-beanstalk';
import { flag, nowMs, percentile } from '../lib.js';
import { type BenchSystem, type CoreModule, payload, queuekitSystem, tag } from '../queuekit-system.js';

/** Settings of the suite, from its command-line flags. */
export interface Settings {
  readonly jobs: number;
  readonly latencyJobs: number;
  readonly url: string;
}

/** A system under test: the protocol floor has only the figures a bare client loop has. */
export type System = Pick<BenchSystem, 'process' | 'cleanup'> & Partial<Omit<BenchSystem, 'process' | 'cleanup'>>;

/** Reads the suite's flags. */
export function parse(args: string[]): Settings {
  return {
    jobs: Number(flag(args, '--jobs') ?? 10_000),
    latencyJobs: Number(flag(args, '--latency-jobs') ?? 1_000),
    url: flag(args, '--url') ?? process.env.BEANSTALK_URL ?? 'beanstalk://127.0.0.1:11300',
  };
}

/** The builds a queuekit system runs: this checkout's by default, or another checkout's (bench/ab.ts). */
export interface BeanstalkModules {
  readonly core: CoreModule;
  readonly driver: Pick<typeof driverBeanstalk, 'createBeanstalkDriver'>;
}

function connect(settings: Settings): BeanstalkClient {
  const url = new URL(settings.url);
  return new BeanstalkClient({ host: url.hostname, port: Number(url.port || 11_300), connectTimeoutMs: 3_000 });
}

/** The driver under the core Worker, every option at its default. */
function queuekit(settings: Settings, modules: BeanstalkModules = { core, driver: driverBeanstalk }): System {
  const tubePrefix = `qkbench-${tag()}.`;
  return queuekitSystem(
    'queuekit-beanstalk',
    () => modules.driver.createBeanstalkDriver({ url: settings.url, tubePrefix }),
    async () => {},
    modules.core,
  );
}

/**
 * The protocol floor: one connection, one command at a time, the same JSON envelope as the driver
 * puts: `put` in a loop, then `reserve-with-timeout 0` + `delete` in a loop. What a worker pays
 * per job before any bookkeeping of its own.
 */
function floor(settings: Settings): System {
  const client = connect(settings);
  const body = (queue: string, i: number) => Buffer.from(JSON.stringify(core.createEnvelope({ name: 'noop', queue, payload: payload(i) })));
  const fill = async (queue: string, count: number) => {
    await client.use(queue);
    const puts: Promise<number>[] = [];
    for (let i = 0; i < count; i += 1) puts.push(client.put(0, 0, 60, body(queue, i)));
    await Promise.all(puts);
  };
  return {
    name: 'protocol-floor',
    async enqueueSingle(count) {
      const queue = `floor-single-${tag()}`;
      await client.use(queue);
      const started = nowMs();
      for (let i = 0; i < count; i += 1) await client.put(0, 0, 60, body(queue, i));
      const jps = count / ((nowMs() - started) / 1000);
      await drain(client, queue);
      return jps;
    },
    async process(count, concurrency) {
      if (concurrency !== 1) return Number.NaN;
      const queue = `floor-process-${tag()}`;
      await fill(queue, count);
      await client.watchOnly([queue]);
      const started = nowMs();
      for (let i = 0; i < count; i += 1) {
        const job = await client.reserveWithTimeout(0);
        if (typeof job !== 'object') throw new Error(`bench: floor: expected a job, got ${job}`);
        fromBackend(job.body);
        await client.delete(job.id);
      }
      return count / ((nowMs() - started) / 1000);
    },
    async cleanup() {
      client.close();
    },
  };
}

/** Deletes every ready job of `tube` (the floor's own put run). */
async function drain(client: BeanstalkClient, tube: string): Promise<void> {
  await client.watchOnly([tube]);
  for (;;) {
    const job = await client.reserveWithTimeout(0);
    if (typeof job !== 'object') return;
    await client.delete(job.id);
  }
}

/** The systems bench/ab.ts can run one at a time: the protocol floor and queuekit. */
export function makeSystem(name: string, settings: Settings, modules?: BeanstalkModules): System {
  if (name === 'queuekit-beanstalk') return queuekit(settings, modules);
  if (name === 'protocol-floor') return floor(settings);
  throw new Error(`beanstalk bench: no system ${JSON.stringify(name)} (queuekit-beanstalk, protocol-floor)`);
}

/** The figures of one round. */
export async function measure(system: System, settings: Settings): Promise<Record<string, number>> {
  const enqueueSingleJps = system.enqueueSingle === undefined ? Number.NaN : await system.enqueueSingle(settings.jobs);
  const enqueueBulkJps = system.enqueueBulk === undefined ? Number.NaN : await system.enqueueBulk(settings.jobs);
  const process1Jps = await system.process(settings.jobs, 1);
  const process50Jps = await system.process(settings.jobs, 50);
  const latencies = system.latency === undefined ? [] : await system.latency(settings.latencyJobs);
  return {
    enqueueSingleJps,
    enqueueBulkJps,
    process1Jps,
    process50Jps,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
  };
}
