import type { DeadLetterReason, Reservation } from '../driver/queue-driver.js';
import type { ErrorInfo, JsonValue } from '../envelope/job-envelope.js';

/** Fields common to every per-job event. */
export interface JobEventBase {
  readonly id: string;
  readonly name: string | undefined;
  readonly queue: string;
  /** The run's number: failed runs before it plus one (a delivery lost with its worker, or handed back unrun, does not count). */
  readonly attempt: number;
}

/** Payloads of the worker's lifecycle events. */
export interface WorkerEventMap {
  /** A job was reserved; `waitMs` is the time from availableAt to reservation. */
  reserved: [JobEventBase & { readonly waitMs: number; readonly reservation: Reservation }];
  /** A handler finished and the job was acknowledged. */
  completed: [JobEventBase & { readonly durationMs: number; readonly result: unknown }];
  /** A handler failed (whether it will be retried or dead-lettered follows). */
  failed: [JobEventBase & { readonly durationMs: number; readonly error: ErrorInfo }];
  /** A failed job was released for another attempt. */
  retrying: [JobEventBase & { readonly delayMs: number; readonly error: ErrorInfo }];
  /** A job went to the dead-letter store. */
  'dead-lettered': [JobEventBase & { readonly reason: DeadLetterReason; readonly error: ErrorInfo }];
  /** A running job reported progress (`ctx.progress`). */
  progress: [JobEventBase & { readonly progress: JsonValue }];
  /** A running job was cancelled (seen at its lease renewal); the driver keeps it as cancelled. */
  cancelled: [JobEventBase];
  /** A job was handed back unfinished (shutdown after the grace period), uncounted: its next run has the same attempt number. */
  released: [JobEventBase];
  /**
   * A job was handed back unrun with a delay (a rate limit, a lock held elsewhere, an open circuit),
   * uncounted: its next run has the same attempt number.
   */
  postponed: [JobEventBase & { readonly delayMs: number; readonly reason: string }];
  /** A reserve found nothing (emitted once per idle period). */
  idle: [];
  /** Something went wrong outside a handler (a driver call); the worker carries on. */
  error: [{ readonly error: Error; readonly during: string }];
  /** The worker stopped; `reason` says why. */
  stopped: [{ readonly reason: StopReason; readonly processed: number }];
}

/** Why a worker stopped. */
export type StopReason = 'requested' | 'signal' | 'max-jobs' | 'max-runtime' | 'memory' | 'empty';
