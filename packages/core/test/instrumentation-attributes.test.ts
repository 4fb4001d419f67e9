import { randomBytes } from 'node:crypto';
import type { Attributes, Meter } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelope } from '../src/index.js';
import { instrumentDriver, METRIC } from '../src/instrumentation/index.js';
import { QueueMetrics } from '../src/instrumentation/queue-metrics.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { createTestSdk, type TestSdk } from './fixtures/instrumentation-sdk.js';

const randomQueue = () => `q-${randomBytes(4).toString('hex')}`;

interface Recording {
  readonly metric: string;
  readonly value: number;
  readonly attributes: Attributes | undefined;
}

/** A meter that keeps every add and record with the very attribute object it was given. */
function recordingMeter(): { meter: Meter; recordings: Recording[] } {
  const recordings: Recording[] = [];
  const instrument = (metric: string) => {
    const keep = (value: number, attributes?: Attributes) => {
      recordings.push({ metric, value, attributes });
    };
    return { add: keep, record: keep };
  };
  const meter = { createCounter: instrument, createHistogram: instrument } as unknown as Meter;
  return { meter, recordings };
}

const system = { 'messaging.system': 'memory' };
const job = (queue: string, name: string) => ({ ...system, 'messaging.destination.name': queue, 'queuekit.job.name': name });

describe('QueueMetrics attribute sets', () => {
  it('hands the SDK one frozen attribute object per (queue, job name), right for each', () => {
    const { meter, recordings } = recordingMeter();
    const metrics = new QueueMetrics(meter, 'memory');
    metrics.completed('q1', 'a');
    metrics.completed('q1', 'a', 3);
    metrics.completed('q1', 'b');
    metrics.completed('q2', 'a');
    metrics.completed('q1', 'a');
    const [first, second, b, q2, again] = recordings;
    expect(recordings.map((r) => [r.metric, r.value])).toEqual([
      [METRIC.completed, 1],
      [METRIC.completed, 3],
      [METRIC.completed, 1],
      [METRIC.completed, 1],
      [METRIC.completed, 1],
    ]);
    expect(first?.attributes).toEqual(job('q1', 'a'));
    expect(Object.isFrozen(first?.attributes)).toBe(true);
    expect(second?.attributes).toBe(first?.attributes);
    expect(again?.attributes).toBe(first?.attributes);
    expect(b?.attributes).toEqual(job('q1', 'b'));
    expect(q2?.attributes).toEqual(job('q2', 'a'));
    expect(b?.attributes).not.toBe(first?.attributes);
    expect(q2?.attributes).not.toBe(first?.attributes);
  });

  it('keeps one set per outcome, operation and error type, each with its own attributes', () => {
    const { meter, recordings } = recordingMeter();
    const metrics = new QueueMetrics(meter, 'memory');
    const processBase = { ...job('q', 'a'), 'messaging.operation.type': 'process', 'messaging.operation.name': 'process' };
    metrics.processed('q', 'a', 'completed', '', 5);
    metrics.processed('q', 'a', 'released', '', 5);
    metrics.processed('q', 'a', 'retried', 'TypeError', 5);
    metrics.processed('q', 'a', 'retried', '', 5);
    metrics.processed('q', 'a', 'completed', '', 7);
    metrics.processed('q', 'b', 'completed', '', 7);
    const processed = recordings.splice(0).map((r) => r.attributes);
    expect(processed[0]).toEqual({ ...processBase, 'queuekit.job.outcome': 'completed' });
    expect(processed[1]).toEqual({ ...processBase, 'queuekit.job.outcome': 'released' });
    expect(processed[2]).toEqual({ ...processBase, 'queuekit.job.outcome': 'retried', 'error.type': 'TypeError' });
    expect(processed[3]).toEqual({ ...processBase, 'queuekit.job.outcome': 'retried' });
    expect(processed[4]).toBe(processed[0]);
    expect(processed[5]).toEqual({ ...processBase, 'queuekit.job.name': 'b', 'queuekit.job.outcome': 'completed' });
    expect(new Set(processed).size).toBe(5);

    metrics.operation('ack', 1, 'q', 'a', '');
    metrics.operation('release', 1, 'q', 'a', '');
    metrics.operation('receive', 1, 'q', 'a', '');
    metrics.operation('receive', 1, '', '', '', true);
    metrics.operation('ack', 1, 'q', 'a', 'LeaseLostError');
    metrics.operation('ack', 2, 'q', 'a', '');
    const operations = recordings.splice(0).map((r) => r.attributes);
    expect(operations[0]).toEqual({ ...job('q', 'a'), 'messaging.operation.type': 'settle', 'messaging.operation.name': 'ack' });
    expect(operations[1]).toEqual({ ...job('q', 'a'), 'messaging.operation.type': 'settle', 'messaging.operation.name': 'release' });
    expect(operations[2]).toEqual({
      ...job('q', 'a'),
      'messaging.operation.type': 'receive',
      'messaging.operation.name': 'receive',
      'queuekit.reserve.empty': false,
    });
    expect(operations[3]).toEqual({
      ...system,
      'messaging.operation.type': 'receive',
      'messaging.operation.name': 'receive',
      'queuekit.reserve.empty': true,
    });
    expect(operations[4]).toEqual({
      ...job('q', 'a'),
      'messaging.operation.type': 'settle',
      'messaging.operation.name': 'ack',
      'error.type': 'LeaseLostError',
    });
    expect(operations[5]).toBe(operations[0]);

    metrics.enqueued('q', 'a', 2);
    metrics.reserved('q', 'a', 2);
    metrics.queueWait('q', 'a', -5);
    const [enqueued, reserved, wait] = recordings.splice(0);
    expect(enqueued).toEqual({
      metric: METRIC.enqueued,
      value: 2,
      attributes: { ...job('q', 'a'), 'messaging.operation.type': 'send', 'messaging.operation.name': 'send' },
    });
    expect(reserved).toEqual({
      metric: METRIC.reserved,
      value: 2,
      attributes: { ...job('q', 'a'), 'messaging.operation.type': 'receive', 'messaging.operation.name': 'receive' },
    });
    expect(wait).toEqual({ metric: METRIC.queueWait, value: 0, attributes: job('q', 'a') });
  });
});

describe('InstrumentedQueueDecorator counts of batches', () => {
  const sdks: TestSdk[] = [];
  afterEach(async () => {
    await Promise.all(sdks.splice(0).map((sdk) => sdk.shutdown()));
  });

  it('counts a mixed batch per queue and job name through push, claim and ackAndClaim', async () => {
    const sdk = createTestSdk();
    sdks.push(sdk);
    const driver = instrumentDriver(createMemoryDriver(), { meterProvider: sdk.meterProvider, traces: false });
    const [q1, q2] = [randomQueue(), randomQueue()];
    const plan: [string, string][] = [
      [q1, 'a'],
      [q1, 'a'],
      [q1, 'b'],
      [q1, 'a'],
      [q2, 'a'],
      [q2, 'a'],
    ];
    const envelopes = plan.map(([queue, name]) => createEnvelope({ name, queue, payload: {} }));
    const held = createEnvelope({ name: 'b', queue: q1, payload: {}, uniqueKey: 'k' });
    await driver.push([held]);
    const skipped = createEnvelope({ name: 'b', queue: q1, payload: {}, uniqueKey: 'k' });
    expect((await driver.push([...envelopes.slice(0, 3), skipped, ...envelopes.slice(3)])).skipped).toEqual([skipped.id]);

    const expectCounts = async (metric: string, expected: Record<string, number>, extra: Record<string, unknown> = {}) => {
      for (const [key, count] of Object.entries(expected)) {
        const [queue, name] = key.split('/') as [string, string];
        expect(await sdk.sum(metric, { ...job(queue, name), ...extra }), `${metric} ${key}`).toBe(count);
      }
    };
    await expectCounts(METRIC.enqueued, { [`${q1}/a`]: 3, [`${q1}/b`]: 2, [`${q2}/a`]: 2 }, { 'messaging.operation.name': 'send' });

    const claimed = await driver.claim!([q1, q2], { leaseMs: 30_000, waitMs: 0, max: 4 });
    expect(claimed).toHaveLength(4);
    const rest = await driver.ackAndClaim!(claimed, [q1, q2], { leaseMs: 30_000, max: 10 });
    expect(rest.claimed).toHaveLength(3);
    await driver.ackAndClaim!(rest.claimed, [q1, q2], { leaseMs: 30_000, max: 0 });

    const all = { [`${q1}/a`]: 3, [`${q1}/b`]: 2, [`${q2}/a`]: 2 };
    await expectCounts(METRIC.reserved, all, { 'messaging.operation.name': 'receive' });
    await expectCounts(METRIC.completed, all);
    for (const [key, count] of Object.entries(all)) {
      const [queue, name] = key.split('/') as [string, string];
      expect(await sdk.count(METRIC.processDuration, { ...job(queue, name), 'queuekit.job.outcome': 'completed' })).toBe(count);
      expect(await sdk.count(METRIC.queueWait, job(queue, name))).toBe(count);
    }
    expect(await sdk.sum(METRIC.completed)).toBe(7);
    expect(await sdk.sum(METRIC.reserved)).toBe(7);
  });
});
