/**
 * What the InstrumentedQueueDecorator costs a Worker, one mode per process (run by ab.ts):
 *
 *   pnpm bench instrumentation [--rounds 5] [--jobs 5000] [--memory-jobs 5000] [--floor-calls 100000]
 *                              [--url redis://127.0.0.1:6379]
 *
 * Three modes: `bare` (the driver itself), `noop` (decorated, no OpenTelemetry SDK in the process:
 * what an application that never installs one pays) and `sdk` (decorated, with an SDK registered
 * globally before anything is decorated, set up the way production does it: AsyncLocalStorage
 * context manager, W3C propagator, a batching span processor and a periodic metric reader, both
 * exporting; every span sampled, counted and dropped). Each mode and round runs in a fresh process
 * against the built `dist`, the modes taking turns (bench/ab.ts).
 *
 * Figures per round: redisWorker1Jps / redisWorker16Jps (the core Worker draining jobs enqueued
 * beforehand on Redis, concurrency 1 / 16, first handler call to last completion), redis1ClientUs /
 * redis16ClientUs (this process's CPU µs per job in those runs: steadier than throughput on a busy
 * machine, and the difference between modes is what the decorator and the SDK add per job),
 * memoryWorker1Jps / memoryWorker16Jps (the same on the in-memory driver: almost nothing but the
 * Worker and the decorator, a probe of their fixed cost), and, in `sdk` mode, floorUs: the SDK's
 * own CPU cost per job when a bare loop does only what the decorator must do per job (start and end
 * one consumer span with its attributes, record one histogram value with a cached attribute set),
 * and floorFullUs: the same for everything the decorator's semantics ask of the SDK per job (see
 * `floor`), and checks that the SDK exported one consumer span per job (a run whose spans were dropped
 * fails rather than count as a faster one).
 */

import { setImmediate } from 'node:timers/promises';
import * as core from '@queuekit/core';
import { instrumentDriver, type QueueDriver } from '@queuekit/core';
import { createMemoryDriver, MemoryStore } from '@queuekit/core/testing';
import { createRedisDriver } from '@queuekit/driver-redis';
// The SDK comes from core's test fixtures, the same one its tests use.
import {
  context,
  createTestSdk,
  propagation,
  SpanKind,
  type TestSdk,
  trace,
} from '../../packages/core/test/fixtures/instrumentation-sdk.js';
import { flag, localServerCpu } from '../lib.js';
import { type BenchSystem, queuekitSystem, tag } from '../queuekit-system.js';
import { deleteKeys } from '../redis-keys.js';

type Mode = 'bare' | 'noop' | 'sdk';
const MODES: readonly Mode[] = ['bare', 'noop', 'sdk'];

/** Settings of the suite, from its command-line flags. */
export interface Settings {
  readonly jobs: number;
  readonly memoryJobs: number;
  readonly floorCalls: number;
  readonly url: string;
}

/** Reads the suite's flags. */
export function parse(args: string[]): Settings {
  const value = (name: string) => flag(args, name);
  return {
    jobs: Number(value('--jobs') ?? 5_000),
    memoryJobs: Number(value('--memory-jobs') ?? 5_000),
    floorCalls: Number(value('--floor-calls') ?? 100_000),
    url: value('--url') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

/** One mode: the Worker on Redis (what one.ts warms up with) and on the memory driver, and the SDK when there is one. */
export interface System extends Pick<BenchSystem, 'process' | 'cleanup'> {
  readonly mode: Mode;
  readonly redis: BenchSystem;
  readonly memory: BenchSystem;
  readonly sdk: TestSdk | undefined;
}

/** The mode `name`, decorated (or not) with this checkout's build; another build is not supported. */
export function makeSystem(name: string, settings: Settings, modules?: unknown): System {
  if (!MODES.includes(name as Mode)) throw new Error(`instrumentation bench: no mode ${JSON.stringify(name)} (${MODES.join(', ')})`);
  if (modules !== undefined) throw new Error('instrumentation bench: --base is not supported (one build, three modes)');
  const built = import.meta.resolve('@queuekit/core');
  if (!built.includes('/dist/')) throw new Error(`instrumentation bench: @queuekit/core resolves to ${built}, not to a build`);
  const mode = name as Mode;
  // Registered before any driver is decorated, as an application's SDK set-up runs first.
  const sdk = mode === 'sdk' ? createTestSdk({ exporting: true, global: true }) : undefined;
  const wrap = (driver: QueueDriver): QueueDriver => (mode === 'bare' ? driver : instrumentDriver(driver));
  const keyPrefix = `qkbench-otel-${tag()}`;
  const redis = queuekitSystem(
    `redis-${mode}`,
    () => wrap(createRedisDriver({ connection: settings.url, keyPrefix })),
    () => deleteKeys(settings.url, `${keyPrefix}:*`),
    core,
    localServerCpu(Number(new URL(settings.url).port || 6379)),
  );
  const store = new MemoryStore();
  const memory = queuekitSystem(
    `memory-${mode}`,
    () => wrap(createMemoryDriver({ store })),
    async () => undefined,
    core,
  );
  return {
    mode,
    redis,
    memory,
    sdk,
    process: (count, concurrency) => redis.process(count, concurrency),
    async cleanup() {
      await redis.cleanup();
      await memory.cleanup();
      await sdk?.shutdown();
    },
  };
}

/** Every figure of one mode in one round. */
export async function measure(system: System, settings: Settings): Promise<Record<string, number>> {
  const run = async (on: BenchSystem, count: number, concurrency: number) => {
    // Spans of the runs before (the warm-up's) are flushed out first, so the count below is this run's.
    await system.sdk?.tracerProvider.forceFlush();
    system.sdk?.spans.reset();
    const jps = await on.process(count, concurrency);
    if (system.sdk !== undefined) {
      await system.sdk.tracerProvider.forceFlush();
      const exported = system.sdk.exportedSpans('process');
      if (exported !== count) throw new Error(`instrumentation bench: the SDK exported ${exported} consumer spans of ${count}`);
    }
    return jps;
  };
  const clientUs = () => system.redis.lastProcessCost?.().clientUs ?? Number.NaN;
  const redisWorker1Jps = await run(system.redis, settings.jobs, 1);
  const redis1ClientUs = clientUs();
  const redisWorker16Jps = await run(system.redis, settings.jobs, 16);
  const redis16ClientUs = clientUs();
  const memoryWorker1Jps = await run(system.memory, settings.memoryJobs, 1);
  const memoryWorker16Jps = await run(system.memory, settings.memoryJobs, 16);
  return {
    redisWorker1Jps,
    redisWorker16Jps,
    redis1ClientUs,
    redis16ClientUs,
    memoryWorker1Jps,
    memoryWorker16Jps,
    floorUs: system.sdk === undefined ? Number.NaN : await floor(system.sdk, settings.floorCalls, false),
    floorFullUs: system.sdk === undefined ? Number.NaN : await floor(system.sdk, settings.floorCalls, true),
  };
}

/**
 * CPU µs per job the SDK itself costs for the least the decorator must record per job: one consumer
 * span (started with a preallocated attribute object, ended) and one histogram value recorded with
 * the same frozen attribute set every time; the same loop without them is subtracted. With `full`,
 * everything the decorator's semantics ask of the SDK per job on the Worker's batched path: the
 * producer's context extracted from the job's headers, the span with it as parent and as a link,
 * made active around the run, its outcome attribute set, and two histogram values (processing time
 * and queue wait). Best of three passes after a warm-up pass. The loop yields to the event loop as
 * often as a busy Worker does, so the batching span processor exports as it would there.
 */
async function floor(sdk: TestSdk, calls: number, full: boolean): Promise<number> {
  const tracer = sdk.tracerProvider.getTracer('queuekit-bench-floor');
  const meter = sdk.meterProvider.getMeter('queuekit-bench-floor');
  const histogram = meter.createHistogram('floor.duration', { unit: 's' });
  const waitHistogram = meter.createHistogram('floor.wait', { unit: 's' });
  const spanAttributes = {
    'messaging.system': 'redis',
    'messaging.destination.name': 'floor',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.message.id': '0',
    'queuekit.job.attempt': 1,
    'queuekit.job.name': 'noop',
  };
  const recordAttributes = Object.freeze({
    'messaging.system': 'redis',
    'messaging.destination.name': 'floor',
    'queuekit.job.name': 'noop',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'queuekit.job.outcome': 'completed',
  });
  const waitAttributes = Object.freeze({
    'messaging.system': 'redis',
    'messaging.destination.name': 'floor',
    'queuekit.job.name': 'noop',
  });
  // The headers a pushed job carries: a producer span's W3C trace context.
  const headers: Record<string, string> = {};
  const producer = tracer.startSpan('send floor', { kind: SpanKind.PRODUCER });
  propagation.inject(trace.setSpan(context.active(), producer), headers);
  producer.end();
  const inside = () => undefined;
  const one = (): void => {
    if (!full) {
      const span = tracer.startSpan('process floor', { kind: SpanKind.CONSUMER, attributes: spanAttributes });
      span.end();
      histogram.record(0.001, recordAttributes);
      return;
    }
    const parent = propagation.extract(context.active(), headers);
    const link = trace.getSpanContext(parent);
    const span = tracer.startSpan(
      'process floor',
      { kind: SpanKind.CONSUMER, attributes: { ...spanAttributes }, ...(link === undefined ? {} : { links: [{ context: link }] }) },
      parent,
    );
    context.with(trace.setSpan(parent, span), inside);
    span.setAttribute('queuekit.job.outcome', 'completed');
    span.end();
    waitHistogram.record(0.001, waitAttributes);
    histogram.record(0.001, recordAttributes);
  };
  const pass = async (record: boolean): Promise<number> => {
    const before = process.cpuUsage();
    for (let i = 0; i < calls; i += 1) {
      if (record) one();
      if (i % 16 === 15) await setImmediate();
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / calls;
  };
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 4; round += 1) {
    sdk.spans.reset();
    const us = (await pass(true)) - (await pass(false));
    if (round > 0) best = Math.min(best, us);
    await sdk.tracerProvider.forceFlush();
    const exported = sdk.exportedSpans('process');
    if (exported !== calls) throw new Error(`instrumentation bench: the SDK exported ${exported} floor spans of ${calls}`);
  }
  sdk.spans.reset();
  return best;
}
