import { randomBytes } from 'node:crypto';
import type * as Core from '@queuekit/core';
import type { JobEnvelope, QueueDriver } from '@queuekit/core';
import { nowMs, type ServerCpu, sleep } from './lib.js';

/** One system under test: each measure returns jobs/s, or latencies in ms. */
export interface BenchSystem {
  readonly name: string;
  enqueueSingle(count: number): Promise<number>;
  enqueueBulk(count: number): Promise<number>;
  process(count: number, concurrency: number): Promise<number>;
  latency(count: number, concurrency?: number): Promise<number[]>;
  cleanup(): Promise<void>;
  /** CPU µs per job of the last `process` run: this process's, and the server's when known (NaN otherwise). */
  lastProcessCost?(): { readonly clientUs: number; readonly serverUs: number };
}

/** The small JSON payload every system carries. */
export const payload = (i: number) => ({ userId: `user-${i}`, kind: 'welcome', flags: [1, 2, 3] });

/** A random tag for queue, schema and key names. */
export const tag = () => randomBytes(4).toString('hex');

/** Waits (bounded) until `done()` holds, polling every ms. */
export async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not finish within ${timeoutMs} ms`);
    await sleep(1);
  }
}

/** Pushes `count` jobs `gapMs` apart and returns when the handler saw them all. */
export async function pushSpaced(count: number, push: (i: number) => Promise<unknown>, seen: () => number, what: string): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await push(i);
    await sleep(2);
  }
  await until(() => seen() >= count, 60_000, what);
}

/** What a queuekit system uses of core: passed in, so that a run can load another checkout's build. */
export type CoreModule = Pick<typeof Core, 'createEnvelope' | 'defineJob' | 'Worker'>;

/** A variant of the workload: jobs in groups, and the Worker options that go with them (the groups suite). */
export interface WorkloadVariant {
  /** The group of the i-th job; absent: no groups. */
  readonly group?: (i: number) => string;
  /** More Worker options for the process runs. */
  readonly worker?: { readonly groups?: { readonly concurrency: number } };
}

/**
 * queuekit through the core Worker, on any driver: `open()` makes a driver, `cleanup()` removes
 * what the runs left, `core` is the core build the driver belongs to, `variant` changes the jobs
 * and the Worker of the process runs.
 */
export function queuekitSystem(
  name: string,
  open: () => QueueDriver,
  cleanup: () => Promise<void>,
  core: CoreModule,
  serverCpu?: ServerCpu,
  variant: WorkloadVariant = {},
): BenchSystem {
  const { createEnvelope, defineJob, Worker } = core;
  const producer = open();
  let cost = { clientUs: Number.NaN, serverUs: Number.NaN };
  // `first` numbers the jobs across batches, for their groups.
  const envelopes = (queue: string, count: number, first = 0): JobEnvelope[] =>
    Array.from({ length: count }, (_, i) =>
      createEnvelope({
        name: 'noop',
        queue,
        payload: payload(i),
        ...(variant.group === undefined ? {} : { group: variant.group(first + i) }),
      }),
    );
  return {
    name,
    async enqueueSingle(count) {
      const queue = `single-${tag()}`;
      const started = nowMs();
      for (let i = 0; i < count; i += 1) await producer.push([createEnvelope({ name: 'noop', queue, payload: payload(i) })]);
      const jps = count / ((nowMs() - started) / 1000);
      await producer.purge(queue);
      return jps;
    },
    async enqueueBulk(count) {
      const queue = `bulk-${tag()}`;
      const batches: JobEnvelope[][] = [];
      for (let i = 0; i < count; i += 1_000) batches.push(envelopes(queue, Math.min(1_000, count - i)));
      const started = nowMs();
      for (const batch of batches) await producer.push(batch);
      const jps = count / ((nowMs() - started) / 1000);
      await producer.purge(queue);
      return jps;
    },
    async process(count, concurrency) {
      const queue = `process-${tag()}`;
      for (let i = 0; i < count; i += 1_000) await producer.push(envelopes(queue, Math.min(1_000, count - i), i));
      const driver = open();
      let first = 0;
      let last = 0;
      let done = 0;
      const job = defineJob('noop', async () => {
        if (first === 0) first = nowMs();
      });
      const worker = new Worker({ driver, jobs: [job], queues: [queue], concurrency, waitMs: 1_000, ...variant.worker });
      worker.on('completed', () => {
        done += 1;
        last = nowMs();
      });
      const serverBefore = serverCpu === undefined ? Number.NaN : await serverCpu();
      const clientBefore = process.cpuUsage();
      const running = worker.run();
      await until(() => done >= count, 300_000, `${name} processing`);
      const client = process.cpuUsage(clientBefore);
      const serverAfter = serverCpu === undefined ? Number.NaN : await serverCpu();
      cost = { clientUs: (client.user + client.system) / count, serverUs: ((serverAfter - serverBefore) * 1e6) / count };
      await worker.stop();
      await running;
      await driver.close();
      return count / ((last - first) / 1000);
    },
    lastProcessCost: () => cost,
    async latency(count, concurrency = 1) {
      const queue = `latency-${tag()}`;
      const driver = open();
      const latencies: number[] = [];
      const job = defineJob('noop', async (data: { sentAt: number }) => {
        latencies.push(nowMs() - data.sentAt);
      });
      const worker = new Worker({ driver, jobs: [job], queues: [queue], concurrency, waitMs: 5_000 });
      const running = worker.run();
      await sleep(300);
      await pushSpaced(
        count,
        (i) => producer.push([createEnvelope({ name: 'noop', queue, payload: { sentAt: nowMs(), ...payload(i) } })]),
        () => latencies.length,
        `${name} latency run`,
      );
      await worker.stop();
      await running;
      await driver.close();
      return latencies;
    },
    async cleanup() {
      await producer.close();
      await cleanup();
    },
  };
}
