import { randomBytes } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob, RetryPolicy, Worker } from '../src/index.js';
import {
  extractTraceContext,
  formatTraceparent,
  injectTraceContext,
  instrumentDriver,
  parseTraceparent,
} from '../src/instrumentation/index.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { createTestSdk, type SpanRecord, type TestSdk, toSpanRecord } from './fixtures/instrumentation-sdk.js';

const randomQueue = () => `q-${randomBytes(4).toString('hex')}`;

let sdk: TestSdk;
const workers: Worker[] = [];
beforeEach(() => {
  sdk = createTestSdk({ global: true });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
  await sdk.shutdown();
});

async function drain(worker: Worker): Promise<void> {
  workers.push(worker);
  await worker.run();
}

function spans(): SpanRecord[] {
  return sdk.finishedSpans().map(toSpanRecord);
}

function only(records: SpanRecord[], predicate: (span: SpanRecord) => boolean, what: string): SpanRecord {
  const found = records.filter(predicate);
  if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}: ${JSON.stringify(records.map((s) => s.name))}`);
  return found[0] as SpanRecord;
}

/** Dispatches `parent` (with a `then` follow-up `child`) inside a root span and drains both with a worker. */
async function runParentAndChild(queue: string, followUpQueue: string) {
  const seen: Record<string, string | undefined> = {};
  const child = defineJob('child', async (_payload: {}, ctx) => {
    seen.child = trace.getActiveSpan()?.spanContext().spanId;
    return ctx.parent?.result;
  });
  const parent = defineJob('parent', async () => {
    seen.parent = trace.getActiveSpan()?.spanContext().spanId;
    return 42;
  });
  const driver = instrumentDriver(createMemoryDriver());
  const tracer = trace.getTracer('test');
  await tracer.startActiveSpan('request', async (span) => {
    await parent.create({}).onQueue(queue).then(child.create({}).onQueue(followUpQueue)).dispatch(driver);
    span.end();
  });
  await drain(new Worker({ driver, jobs: [parent, child], queues: [queue, followUpQueue], waitMs: 20, stopWhenEmpty: true }));
  return seen;
}

describe('InstrumentedQueueDecorator traces', () => {
  it('continues the producer’s trace into the worker’s consumer span and through a then follow-up', async () => {
    const queue = randomQueue();
    const followUpQueue = randomQueue();
    const seen = await runParentAndChild(queue, followUpQueue);
    const all = spans();
    const request = only(all, (s) => s.name === 'request', 'root span');
    const sendParent = only(all, (s) => s.name === `send ${queue}`, 'producer span of the parent job');
    const processParent = only(all, (s) => s.name === `process ${queue}`, 'consumer span of the parent job');
    const sendChild = only(all, (s) => s.name === `send ${followUpQueue}`, 'producer span of the follow-up');
    const processChild = only(all, (s) => s.name === `process ${followUpQueue}`, 'consumer span of the follow-up');

    for (const span of [sendParent, processParent, sendChild, processChild]) expect(span.traceId).toBe(request.traceId);
    expect(sendParent.parentSpanId).toBe(request.spanId);
    expect(sendParent.kind).toBe(SpanKind.PRODUCER);
    expect(sendParent.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': queue,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'queuekit.job.name': 'parent',
    });
    expect(processParent.kind).toBe(SpanKind.CONSUMER);
    expect(processParent.parentSpanId).toBe(sendParent.spanId);
    expect(processParent.links).toEqual([{ traceId: request.traceId, spanId: sendParent.spanId }]);
    expect(processParent.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'queuekit.job.name': 'parent',
      'queuekit.job.attempt': 1,
      'queuekit.job.outcome': 'completed',
    });
    expect(processParent.status).toBe(SpanStatusCode.UNSET);
    // The handler runs inside the consumer span, and the follow-up's producer span hangs off it.
    expect(seen.parent).toBe(processParent.spanId);
    expect(sendChild.parentSpanId).toBe(processParent.spanId);
    expect(processChild.parentSpanId).toBe(sendChild.spanId);
    expect(seen.child).toBe(processChild.spanId);
  });

  it('writes W3C trace context into the stored envelope', async () => {
    const memory = createMemoryDriver();
    const driver = instrumentDriver(memory);
    const queue = randomQueue();
    const noop = defineJob('noop', async () => undefined);
    await noop.create({}).onQueue(queue).dispatch(driver);
    const reservation = await memory.reserve([queue], { leaseMs: 1_000, waitMs: 0 });
    const traceparent = reservation?.envelope?.trace?.traceparent;
    const send = only(spans(), (s) => s.name === `send ${queue}`, 'producer span');
    expect(traceparent).toBe(`00-${send.traceId}-${send.spanId}-01`);
  });

  it('marks the consumer span of a failed attempt as an error with the exception, and the retry continues the same trace', async () => {
    const queue = randomQueue();
    let runs = 0;
    const flaky = defineJob('flaky', async () => {
      runs += 1;
      if (runs === 1) throw new TypeError('first attempt fails');
    });
    const driver = instrumentDriver(createMemoryDriver());
    await flaky.create({}).onQueue(queue).attempts(2, RetryPolicy.fixed(0)).dispatch(driver);
    await drain(new Worker({ driver, jobs: [flaky], queues: [queue], waitMs: 20, stopWhenEmpty: true }));

    const all = spans();
    const send = only(all, (s) => s.name === `send ${queue}`, 'producer span');
    const first = only(all, (s) => s.name === `process ${queue}` && s.attributes['queuekit.job.attempt'] === 1, 'first attempt');
    const second = only(all, (s) => s.name === `process ${queue}` && s.attributes['queuekit.job.attempt'] === 2, 'second attempt');
    expect(first.status).toBe(SpanStatusCode.ERROR);
    expect(first.events).toContain('exception');
    expect(first.attributes).toMatchObject({ 'queuekit.job.outcome': 'retried', 'error.type': 'TypeError' });
    expect(second.status).toBe(SpanStatusCode.UNSET);
    expect(second.attributes['queuekit.job.outcome']).toBe('completed');
    for (const span of [first, second]) {
      expect(span.traceId).toBe(send.traceId);
      expect(span.parentSpanId).toBe(send.spanId);
    }
  });

  it('marks a dead-lettered delivery’s span with the error, the outcome and the reason', async () => {
    const queue = randomQueue();
    const broken = defineJob('broken', async () => {
      throw new RangeError('always');
    });
    const driver = instrumentDriver(createMemoryDriver());
    await broken.create({}).onQueue(queue).attempts(1).dispatch(driver);
    await drain(new Worker({ driver, jobs: [broken], queues: [queue], waitMs: 20, stopWhenEmpty: true }));
    const process = only(spans(), (s) => s.name === `process ${queue}`, 'consumer span');
    expect(process.status).toBe(SpanStatusCode.ERROR);
    expect(process.events).toContain('exception');
    expect(process.attributes).toMatchObject({
      'queuekit.job.outcome': 'dead-lettered',
      'queuekit.dead_letter.reason': 'failed',
      'error.type': 'RangeError',
    });
  });

  it('still carries the trace across the queue when no propagator is registered', async () => {
    propagation.disable();
    const queue = randomQueue();
    const followUpQueue = randomQueue();
    await runParentAndChild(queue, followUpQueue);
    const all = spans();
    const request = only(all, (s) => s.name === 'request', 'root span');
    const sendParent = only(all, (s) => s.name === `send ${queue}`, 'producer span');
    const processParent = only(all, (s) => s.name === `process ${queue}`, 'consumer span');
    const processChild = only(all, (s) => s.name === `process ${followUpQueue}`, 'follow-up consumer span');
    expect(processParent.parentSpanId).toBe(sendParent.spanId);
    expect(processChild.traceId).toBe(request.traceId);
  });
});

describe('InstrumentedQueueDecorator traces under concurrency and without a tracer', () => {
  it('keeps concurrent deliveries in their own traces', async () => {
    const queue = randomQueue();
    const active = new Map<string, string | undefined>();
    const work = defineJob('work', async (_payload: { n: number }, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      active.set(ctx.id, trace.getActiveSpan()?.spanContext().spanId);
    });
    const driver = instrumentDriver(createMemoryDriver());
    const tracer = trace.getTracer('test');
    const roots = new Map<string, string>();
    for (let n = 0; n < 8; n += 1) {
      await tracer.startActiveSpan(`request ${n}`, async (span) => {
        const job = work.create({ n }).onQueue(queue);
        await job.dispatch(driver);
        roots.set(job.id, span.spanContext().traceId);
        span.end();
      });
    }
    await drain(new Worker({ driver, jobs: [work], queues: [queue], concurrency: 4, waitMs: 20, stopWhenEmpty: true }));
    const all = spans();
    const sends = all.filter((s) => s.name === `send ${queue}`);
    const processes = all.filter((s) => s.name === `process ${queue}`);
    expect(processes).toHaveLength(8);
    for (const process of processes) {
      const id = process.attributes['messaging.message.id'] as string;
      const send = sends.find((s) => s.attributes['messaging.message.id'] === id);
      expect(send).toBeDefined();
      expect(process.traceId).toBe(roots.get(id));
      expect(process.parentSpanId).toBe(send?.spanId);
      expect(active.get(id)).toBe(process.spanId);
    }
    expect(new Set(processes.map((s) => s.traceId)).size).toBe(8);
  });

  it('passes an active upstream trace context on into the envelope when no tracer provider is registered', async () => {
    trace.disable();
    const memory = createMemoryDriver();
    const driver = instrumentDriver(memory);
    const queue = randomQueue();
    const upstream = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    };
    const noop = defineJob('noop', async () => undefined);
    await context.with(trace.setSpanContext(context.active(), upstream), () => noop.create({}).onQueue(queue).dispatch(driver));
    const reservation = await memory.reserve([queue], { leaseMs: 1_000, waitMs: 0 });
    expect(reservation?.envelope?.trace?.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(spans()).toEqual([]);
  });
});

describe('trace context in envelopes', () => {
  const spanContext = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
  };

  it('writes and reads traceparent itself when no propagator is registered', () => {
    propagation.disable();
    const headers = injectTraceContext(trace.setSpanContext(ROOT_CONTEXT, spanContext));
    expect(headers).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const extracted = trace.getSpanContext(extractTraceContext(headers ?? {}, ROOT_CONTEXT));
    expect(extracted).toMatchObject({ ...spanContext, isRemote: true });
  });

  it('carries nothing when no span context is active', () => {
    expect(injectTraceContext(ROOT_CONTEXT)).toBeUndefined();
    expect(extractTraceContext({}, ROOT_CONTEXT)).toBe(ROOT_CONTEXT);
  });

  it('rejects malformed traceparent values', () => {
    expect(formatTraceparent(spanContext)).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toMatchObject(spanContext);
    expect(parseTraceparent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceparent('ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra')).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'k=v')?.traceState?.get('k')).toBe('v');
  });
});
