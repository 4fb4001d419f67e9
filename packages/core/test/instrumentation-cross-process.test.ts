import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { type Backend, type BackendScope, randomScope } from './fixtures/instrumentation-backends.js';
import type { SpanRecord } from './fixtures/instrumentation-sdk.js';

// The producer and the worker each run in a Node process of their own (the fixture), with their own
// SDK, and meet only through the backend: the trace context has to travel inside the envelope. The
// drivers load in those processes rather than in the test runner, whose module conditions pg's
// CommonJS build does not survive.
const fixture = fileURLToPath(new URL('./fixtures/instrumentation-process.ts', import.meta.url));
const randomQueue = () => `q-${randomBytes(4).toString('hex')}`;

interface ProcessReport {
  readonly completed: number;
  readonly activeSpans: Record<string, string | undefined>;
  readonly spans: SpanRecord[];
}

/** Runs the fixture in `role` in another Node process and parses the report it prints. */
function runProcess(role: 'produce' | 'work' | 'drop', scope: BackendScope, queues: readonly string[]): Promise<ProcessReport | undefined> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', fixture],
      {
        env: {
          ...process.env,
          QK_OTEL_ROLE: role,
          QK_OTEL_BACKEND: scope.backend,
          QK_OTEL_NAMESPACE: scope.namespace,
          QK_OTEL_QUEUES: queues.join(','),
        },
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${role} process failed: ${error.message}\n${stderr}`));
        if (role === 'drop') return resolve(undefined);
        const line = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as ProcessReport);
        } catch {
          reject(new Error(`${role} process printed no report:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

function only(records: readonly SpanRecord[], name: string): SpanRecord {
  const found = records.filter((span) => span.name === name);
  if (found.length !== 1)
    throw new Error(`expected one span "${name}", found ${found.length} in ${JSON.stringify(records.map((s) => s.name))}`);
  return found[0] as SpanRecord;
}

const scopes: BackendScope[] = [];
afterEach(async () => {
  await Promise.all(scopes.splice(0).map((scope) => runProcess('drop', scope, [])));
});

describe.each<Backend>(['redis', 'postgres'])('a trace across processes through %s', (backend) => {
  it('continues from the producer process into the worker process and through its then follow-up', { timeout: 120_000 }, async () => {
    const scope = randomScope(backend);
    scopes.push(scope);
    const queues = [randomQueue(), randomQueue()];
    const [queue, followUpQueue] = queues as [string, string];

    const producer = (await runProcess('produce', scope, queues)) as ProcessReport;
    const request = only(producer.spans, 'request');
    const send = only(producer.spans, `send ${queue}`);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.traceId).toBe(request.traceId);
    expect(send.parentSpanId).toBe(request.spanId);

    const worker = (await runProcess('work', scope, queues)) as ProcessReport;
    expect(worker.completed).toBe(2);
    const processParent = only(worker.spans, `process ${queue}`);
    const sendChild = only(worker.spans, `send ${followUpQueue}`);
    const processChild = only(worker.spans, `process ${followUpQueue}`);
    for (const span of [processParent, sendChild, processChild]) expect(span.traceId).toBe(request.traceId);
    expect(processParent.kind).toBe(SpanKind.CONSUMER);
    expect(processParent.parentSpanId).toBe(send.spanId);
    expect(processParent.links).toEqual([{ traceId: request.traceId, spanId: send.spanId }]);
    expect(processParent.attributes).toMatchObject({ 'messaging.system': backend, 'queuekit.job.outcome': 'completed' });
    expect(worker.activeSpans.parent).toBe(processParent.spanId);
    expect(sendChild.kind).toBe(SpanKind.PRODUCER);
    expect(sendChild.parentSpanId).toBe(processParent.spanId);
    expect(processChild.parentSpanId).toBe(sendChild.spanId);
    expect(worker.activeSpans.child).toBe(processChild.spanId);
  });
});
