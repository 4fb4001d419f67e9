import type { ErrorInfo, JobEnvelope, JsonValue } from '../envelope/job-envelope.js';
import type { DeadLetterReason } from './queue-driver.js';

/**
 * Where a job is: `waiting` (ready to run), `delayed` (not due yet), `active` (leased by a worker),
 * `completed`, `failed` (in the dead-letter store) or `cancelled`. A job no backend record knows of
 * any more (or never knew) has no state: lookups return `undefined` for it.
 */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'cancelled';

/** The states a driver lists itself; `failed` jobs are the dead-letter store's. */
export type DriverJobState = Exclude<JobState, 'failed'>;

/** Every job state, in the order a job passes through them. */
export const JOB_STATES: readonly JobState[] = Object.freeze(['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled']);

/** The lease of an active job. */
export interface JobLease {
  /** Who holds it: the `holder` the claiming worker gave (host, pid, worker), or undefined. */
  readonly holder: string | undefined;
  /** Epoch ms (backend clock) when the lease runs out unless renewed. */
  readonly expiresAt: number;
}

/** A job as a lookup returns it. Times are epoch ms. */
export interface JobInfo {
  readonly id: string;
  readonly queue: string;
  /** The job name; undefined for a poison body. */
  readonly name: string | undefined;
  readonly state: JobState;
  /** The stored envelope; undefined for a poison body and for finished jobs whose record keeps no envelope. */
  readonly envelope: JobEnvelope | undefined;
  /**
   * Runs counted so far: for waiting, delayed and active jobs the failed runs before now; for
   * completed jobs every run including the last; for failed jobs the dead letter's attempts.
   */
  readonly attempts: number;
  /** The last failure (of an earlier run, or the one that dead-lettered the job). */
  readonly lastError?: ErrorInfo;
  /** The last progress the handler reported (`ctx.progress`). */
  readonly progress?: JsonValue;
  /** The handler's return value, for completed jobs (absent when it returned nothing or was not storable). */
  readonly result?: JsonValue;
  /** When the job was dispatched; undefined when the backend does not know. */
  readonly createdAt: number | undefined;
  /** When the job is (or was) due to run. */
  readonly availableAt?: number;
  /** When its last run started. */
  readonly startedAt?: number;
  /** When it completed, failed for good or was cancelled. */
  readonly finishedAt?: number;
  /** The lease of an active job. */
  readonly lease?: JobLease;
  /** Why a failed job was dead-lettered. */
  readonly deadLetterReason?: DeadLetterReason;
}

/** Where to look for a job by id. */
export interface JobLookupOptions {
  /**
   * The job's queue, when known: a driver looks there first (drivers whose keys are per queue,
   * like Redis Cluster, search the queues they know of otherwise).
   */
  readonly queue?: string;
}

/** Options of {@link QueueDriver.listJobs}. */
export interface JobListOptions {
  readonly queue: string;
  readonly state: DriverJobState;
  /** At most this many jobs; default 50, at most 1,000. */
  readonly limit?: number;
  /** Skip this many first; default 0. */
  readonly offset?: number;
}

/**
 * What {@link QueueDriver.cancel} did: `cancelled` (it was waiting, delayed or active; an active
 * handler's signal aborts at its next lease renewal), `finished` (it had already completed, failed or
 * been cancelled: nothing changed) or `not-found`.
 */
export type CancelOutcome = 'cancelled' | 'finished' | 'not-found';

/** Options of {@link QueueDriver.ack}. */
export interface AckOptions {
  /**
   * The finished-job record to keep (made by core's `encodeFinishedJob`), for drivers that declare
   * `capabilities.retention`; absent when the worker keeps none. Drivers store it as it is.
   */
  readonly record?: string;
}
