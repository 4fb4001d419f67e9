import {
  type AckAndClaimOptions,
  type ClaimOptions,
  type DeadLetterEntry,
  type DeadLetterReason,
  type ErrorInfo,
  InvalidArgumentError,
  isValidQueueName,
  type JobEnvelope,
  quoteInput,
  type Reservation,
} from '@queuekit/core';
import { fromBackend } from '@queuekit/core/driver';

/** A claimed row as both dialects return it. */
export interface ClaimedRow {
  readonly job_id: string;
  readonly queue: string;
  readonly body: string;
  /** Runs that failed before this claim (settled with release()). */
  readonly attempts: number;
  /** Claims before this one whose lease ran out unsettled, this claim's find included. */
  readonly lost_deliveries: number;
  readonly lease_expires_at: number;
}

/** A dead-letter row as both dialects return it. */
export interface DeadLetterRow {
  readonly job_id: string;
  readonly queue: string;
  readonly name: string | null;
  readonly body: string;
  readonly poison: boolean | number;
  readonly reason: string;
  readonly error: string | ErrorInfo;
  readonly attempts: number;
  readonly first_failed_at: number | string;
  readonly failed_at: number | string;
}

/** Turns a claimed row into a Reservation; an undecodable body becomes `poison`, never a throw. */
export function toReservation(row: ClaimedRow, token: string): Reservation {
  const base = {
    token,
    id: row.job_id,
    queue: row.queue,
    attempt: Number(row.attempts) + 1,
    lostDeliveries: Number(row.lost_deliveries),
    leaseExpiresAt: Number(row.lease_expires_at),
  };
  try {
    return { ...base, envelope: fromBackend(row.body) };
  } catch (error) {
    return { ...base, poison: { raw: row.body, error: error instanceof Error ? error : new Error(String(error)) } };
  }
}

/** Turns a dead-letter row into the store's entry shape. */
export function toDeadLetterEntry(row: DeadLetterRow): DeadLetterEntry {
  const poison = row.poison === true || row.poison === 1;
  let envelope: JobEnvelope | undefined;
  if (!poison) {
    try {
      envelope = fromBackend(row.body);
    } catch {
      envelope = undefined;
    }
  }
  return {
    id: row.job_id,
    queue: row.queue,
    name: row.name ?? undefined,
    envelope,
    ...(envelope === undefined ? { raw: row.body } : {}),
    reason: row.reason as DeadLetterReason,
    error: typeof row.error === 'string' ? (JSON.parse(row.error) as ErrorInfo) : row.error,
    attempts: Number(row.attempts),
    firstFailedAt: Number(row.first_failed_at),
    failedAt: Number(row.failed_at),
  };
}

/** Throws InvalidArgumentError unless `queues` is a non-empty list of valid queue names. */
export function assertQueues(dialect: string, queues: readonly string[]): void {
  if (!Array.isArray(queues) || queues.length === 0) throw new InvalidArgumentError(`${dialect}: reserve: expected at least one queue`);
  for (const queue of queues) assertQueue(dialect, queue);
}

/** Throws InvalidArgumentError unless `queue` is a valid queue name. */
export function assertQueue(dialect: string, queue: string): void {
  if (typeof queue !== 'string' || !isValidQueueName(queue)) {
    throw new InvalidArgumentError(`${dialect}: invalid queue name ${quoteInput(queue)}`);
  }
}

/** Throws InvalidArgumentError unless `value` is a finite number >= `min`. */
export function assertMs(dialect: string, key: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(`${dialect}: ${key}: expected a number >= ${min}, got ${quoteInput(value)}`);
  }
}

/** Throws InvalidArgumentError unless `max` is an integer >= `min` (a batch size). */
function assertCount(dialect: string, operation: string, max: number, min: number): void {
  if (!Number.isInteger(max) || max < min) {
    throw new InvalidArgumentError(`${dialect}: ${operation}: options.max: expected an integer >= ${min}, got ${quoteInput(max)}`);
  }
}

/** Checks the arguments of `claim()`; InvalidArgumentError naming the first that is wrong. */
export function assertClaimArguments(dialect: string, queues: readonly string[], options: ClaimOptions): void {
  assertQueues(dialect, queues);
  assertMs(dialect, 'leaseMs', options.leaseMs, 1);
  assertMs(dialect, 'waitMs', options.waitMs, 0);
  assertCount(dialect, 'claim', options.max, 1);
}

/** Checks the arguments of `ackAndClaim()` (queues and lease only when it claims); InvalidArgumentError naming the first that is wrong. */
export function assertAckAndClaimArguments(
  dialect: string,
  acks: readonly unknown[],
  queues: readonly string[],
  options: AckAndClaimOptions,
): void {
  if (!Array.isArray(acks)) throw new InvalidArgumentError(`${dialect}: ackAndClaim: expected an array of reservations`);
  assertCount(dialect, 'ackAndClaim', options.max, 0);
  if (options.max > 0) {
    assertQueues(dialect, queues);
    assertMs(dialect, 'leaseMs', options.leaseMs, 1);
  }
}
