import type { DeadLetterReason, QueueDriver, Reservation } from '../driver/queue-driver.js';
import { type ErrorInfo, type JobEnvelope, toErrorInfo } from '../envelope/job-envelope.js';
import { RetryLaterError } from '../errors/retry-later-error.js';
import { UnrecoverableError } from '../errors/unrecoverable-error.js';
import { followUpEnvelopes } from '../job/follow-up.js';
import type { Logger } from '../logger/logger.js';
import { RetryPolicy } from '../retry/retry-policy.js';
import type { JobEventBase, WorkerEventMap } from './worker-events.js';

type Emit = <K extends keyof WorkerEventMap>(event: K, ...args: WorkerEventMap[K]) => void;

/** What became of a failed delivery. */
export type FailureOutcome = 'retrying' | 'dead-lettered';

/** Lost deliveries a job survives by default before it is dead-lettered as `max-deliveries`. */
export const DEFAULT_MAX_LOST_DELIVERIES = 5;

/**
 * The single place that finalises a failed delivery and acts on the two counts the driver keeps:
 * `attempt` (runs that failed) against the job's `maxAttempts` and retry policy, and
 * `lostDeliveries` (claims that died with their worker) against the worker's own budget. It never
 * counts itself: the driver counts atomically with claim and release. It retries with the policy's
 * delay while attempts remain, or dead-letters and dispatches the job's `catch` and `finally`
 * follow-ups.
 */
export class RequeueHelper {
  readonly #driver: QueueDriver;
  readonly #log: Logger;
  readonly #emit: Emit;
  readonly #now: () => number;
  readonly #maxLostDeliveries: number;

  constructor(options: { driver: QueueDriver; logger: Logger; emit: Emit; now?: () => number; maxLostDeliveries?: number }) {
    this.#driver = options.driver;
    this.#log = options.logger;
    this.#emit = options.emit;
    this.#now = options.now ?? Date.now;
    this.#maxLostDeliveries = options.maxLostDeliveries ?? DEFAULT_MAX_LOST_DELIVERIES;
  }

  /** True when the job was lost with its worker more often than the budget allows (a job that kills its worker every time). */
  lostTooOften(reservation: Reservation): boolean {
    return reservation.lostDeliveries > this.#maxLostDeliveries;
  }

  /** Dead-letters a delivery that is {@link lostTooOften} as `max-deliveries`, without running it. */
  async deadLetterLost(reservation: Reservation): Promise<void> {
    const error = new UnrecoverableError(
      `lost with its worker ${reservation.lostDeliveries} times (the limit is ${this.#maxLostDeliveries}): each delivery's lease ran out unsettled, so the worker crashed, was killed or hung`,
    );
    await this.deadLetter(reservation, 'max-deliveries', error);
  }

  /**
   * Retries or dead-letters a delivery whose handler failed (or timed out). The retry waits the
   * policy's delay, or a RetryLaterError's `retryAfterMs`.
   */
  async fail(reservation: Reservation, error: unknown, options: { timedOut?: boolean } = {}): Promise<FailureOutcome> {
    const envelope = reservation.envelope as JobEnvelope;
    const info = toErrorInfo(error);
    const now = this.#now();
    const attempts = reservation.attempt;
    const unrecoverable = error instanceof UnrecoverableError;
    if (!unrecoverable && attempts < envelope.maxAttempts) {
      const { delayMs } =
        error instanceof RetryLaterError ? { delayMs: error.retryAfterMs } : new RetryPolicy(envelope.retry).delayFor(attempts, now);
      const failure = { firstFailedAt: envelope.failure?.firstFailedAt ?? now, lastFailedAt: now, lastError: info };
      await this.#driver.release(reservation, { delayMs, envelope: { ...envelope, failure } });
      this.#emit('retrying', { ...eventBase(reservation), delayMs, error: info });
      return 'retrying';
    }
    await this.deadLetter(reservation, options.timedOut === true ? 'timeout' : 'failed', info);
    return 'dead-lettered';
  }

  /**
   * Moves a delivery to the dead-letter store with `reason`, then dispatches catch/finally
   * follow-ups. Its `attempts` counts this run only when it failed (`failed`, `timeout`).
   */
  async deadLetter(reservation: Reservation, reason: DeadLetterReason, error: ErrorInfo | Error): Promise<void> {
    const info = error instanceof Error ? toErrorInfo(error) : error;
    const now = this.#now();
    const envelope = reservation.envelope;
    // Follow-ups go first: were the process to die between the two steps, the job is delivered
    // again and they may be dispatched twice (at-least-once), but never lost.
    if (envelope !== undefined) {
      const descriptors = [...envelope.callbacks.catch, ...envelope.callbacks.finally];
      if (descriptors.length > 0) {
        await this.#driver.push(
          followUpEnvelopes(descriptors, { id: envelope.id, name: envelope.name, status: 'failed', error: info }, now),
        );
      }
    }
    await this.#driver.deadLetter(reservation, {
      reason,
      error: info,
      attempts: reason === 'failed' || reason === 'timeout' ? reservation.attempt : reservation.attempt - 1,
      firstFailedAt: envelope?.failure?.firstFailedAt ?? now,
      failedAt: now,
    });
    this.#log.warn('job dead-lettered', {
      id: reservation.id,
      name: envelope?.name,
      queue: reservation.queue,
      reason,
      error: info.message,
    });
    this.#emit('dead-lettered', { ...eventBase(reservation), reason, error: info });
  }
}

/** The common event fields of a reservation. */
export function eventBase(reservation: Reservation): JobEventBase {
  return { id: reservation.id, name: reservation.envelope?.name, queue: reservation.queue, attempt: reservation.attempt };
}
