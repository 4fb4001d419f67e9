import { randomBytes } from 'node:crypto';
import { createEnvelope, type EnvelopeInit, type JobEnvelope, type JobFailure, type QueueDriver, type Reservation } from '@queuekit/core';
import { encodeFinishedJob } from '@queuekit/core/driver';

/** A queue name no other test uses: `prefix` plus random hex, valid on every driver. */
export function randomQueueName(prefix = 'contract'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@link waitUntil}. */
export interface WaitUntilOptions {
  /** Give up after this many ms; default 10,000. */
  readonly timeoutMs?: number;
  /** Pause between checks, in ms; default 25. */
  readonly intervalMs?: number;
  /** Named in the error when the condition never held. */
  readonly description?: string;
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false` and resolves that value;
 * rejects when `timeoutMs` passes first. Bounded in time, so a test built on it can fail.
 */
export async function waitUntil<T>(check: () => T | Promise<T>, options: WaitUntilOptions = {}): Promise<Exclude<T, false | undefined>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
    if (Date.now() >= deadline) throw new Error(`waitUntil: ${options.description ?? 'condition'} did not hold within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** An envelope for `queue` with a small payload; `init` overrides any field. */
export function testEnvelope(queue: string, init: Partial<EnvelopeInit> = {}): JobEnvelope {
  return createEnvelope({ name: 'contract-job', queue, payload: { n: 1 }, ...init });
}

/** A JobFailure with a message and stack; `overrides` replace any field. */
export function testFailure(overrides: Partial<JobFailure> = {}): JobFailure {
  const now = Date.now();
  return {
    reason: 'failed',
    error: { name: 'Error', message: 'contract failure', stack: 'Error: contract failure\n    at contract (contract.ts:1:1)' },
    attempts: 1,
    firstFailedAt: now - 1000,
    failedAt: now,
    ...overrides,
  };
}

/** Reserves from `queues`, waiting up to `waitMs` (default 2,000); rejects when nothing comes. */
export async function reserveOrFail(
  driver: QueueDriver,
  queues: readonly string[],
  leaseMs = 30_000,
  waitMs = 2_000,
): Promise<Reservation> {
  const reservation = await driver.reserve(queues, { leaseMs, waitMs });
  if (reservation === undefined) throw new Error(`expected a job from ${queues.join(', ')} within ${waitMs} ms, got none`);
  return reservation;
}

/**
 * Polls `reserve(waitMs 0)` until a job comes (e.g. after a lease or delay ran out) and resolves
 * it; rejects after `timeoutMs` (default 10,000).
 */
export function reserveEventually(
  driver: QueueDriver,
  queues: readonly string[],
  leaseMs = 30_000,
  timeoutMs = 10_000,
): Promise<Reservation> {
  return waitUntil(() => driver.reserve(queues, { leaseMs, waitMs: 0 }), { timeoutMs, description: `a job from ${queues.join(', ')}` });
}

/**
 * The finished-job record the Worker hands `ack()` for a completed delivery: `result` (default:
 * the job id) kept, finished at `finishedAt` (default now).
 */
export function completedRecord(reservation: Reservation, result: unknown = reservation.id, finishedAt = Date.now()): string {
  return encodeFinishedJob({
    id: reservation.id,
    queue: reservation.queue,
    name: reservation.envelope?.name,
    state: 'completed',
    attempts: reservation.attempt,
    ...(result === undefined ? {} : { result: result as never }),
    createdAt: reservation.envelope?.createdAt,
    startedAt: finishedAt - 5,
    finishedAt,
  });
}
