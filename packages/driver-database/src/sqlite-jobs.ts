import {
  type CancelOutcome,
  JobCancelledError,
  type JobInfo,
  type JobListOptions,
  type JobLookupOptions,
  type QueueError,
  type Reservation,
} from '@queuekit/core';
import { jobListPaging } from '@queuekit/core/driver';
import { assertProgress, cancelledRecord, finishedInfo, type LiveJobRow, liveInfo, lookupQueue, type PruneBounds } from './job-rows.js';
import { leaseLostError } from './lease-lost.js';
import { assertQueue } from './rows.js';
import type { SqliteRunner } from './sqlite-dead-letter-store.js';
import type { SqliteStatements } from './sqlite-statements.js';

const DIALECT = 'sqlite';

/** A finished-job record to keep: completed (given to an ack) or cancelled. */
export interface FinishedToKeep {
  readonly jobId: string;
  readonly queue: string;
  readonly state: 'completed' | 'cancelled';
  readonly record: string;
}

/**
 * Keeps finished-job records, then prunes each of their queues: by age every time (an index probe
 * that usually finds nothing), by count with a chance of 1 in `bounds.every` per record (see
 * PruneBounds). Run inside the caller's transaction, so a record and its prune commit together.
 */
export function keepFinished(db: SqliteStatements, records: readonly FinishedToKeep[], bounds: PruneBounds, now: number): void {
  const keep = db.get('keepFinished');
  const countDue = new Map<string, boolean>();
  for (const { jobId, queue, state, record } of records) {
    keep.run({ job_id: jobId, queue, state, now, record });
    countDue.set(queue, countDue.get(queue) === true || Math.random() * bounds.every < 1);
  }
  for (const [queue, due] of countDue) {
    db.get('pruneByAge').run({ queue, before: now - bounds.ageMs });
    if (due) db.get('pruneByCount').run({ queue, count: bounds.count });
  }
}

/**
 * The SQLite members of jobs you can look up and steer: `getJob` and `listJobs` over `jobs` and
 * `finished_jobs`, progress stored with the held job, `cancel` (the live row deleted and its
 * cancelled record kept in one BEGIN IMMEDIATE), `pause`/`resume` through `paused_queues` (waiting
 * reserves in other processes find a resumed queue at their next poll), and the check that tells a
 * cancelled job from a lost lease.
 */
export class SqliteJobs {
  readonly #run: SqliteRunner;
  readonly #wake: (queue: string) => void;
  readonly #bounds: PruneBounds;

  /** Internal: `run` is the driver's, `wake` wakes this process's reserves waiting on a queue, `bounds` prune a cancel's queue. */
  constructor(run: SqliteRunner, wake: (queue: string) => void, bounds: PruneBounds) {
    this.#run = run;
    this.#wake = wake;
    this.#bounds = bounds;
  }

  /** The job with this id (live first, then the finished ones kept); undefined when neither has it. */
  async getJob(id: string, options: JobLookupOptions = {}): Promise<JobInfo | undefined> {
    const queue = lookupQueue(DIALECT, 'getJob', id, options);
    return this.#run('getJob', (db) => {
      const live = db.get('liveJob').get({ job_id: id, queue, now: Date.now() }) as LiveJobRow | undefined;
      if (live !== undefined) return liveInfo(live);
      const finished = db.get('finishedJob').get({ job_id: id, queue }) as { record: string } | undefined;
      return finished === undefined ? undefined : finishedInfo(finished.record);
    });
  }

  /** Jobs of one queue in one state: in run order, or most recently finished first. */
  async listJobs(options: JobListOptions): Promise<JobInfo[]> {
    const { queue, state, limit, offset } = jobListPaging(DIALECT, options);
    return this.#run('listJobs', (db) => {
      if (state === 'completed' || state === 'cancelled') {
        const rows = db.get('listFinished').all({ queue, state, limit, offset }) as { record: string }[];
        return rows.map((row) => finishedInfo(row.record));
      }
      const statement = state === 'waiting' ? 'listWaiting' : state === 'delayed' ? 'listDelayed' : 'listActive';
      return (db.get(statement).all({ queue, now: Date.now(), limit, offset }) as LiveJobRow[]).map(liveInfo);
    });
  }

  /** Stores the held job's progress (JSON text); LeaseLostError (JobCancelledError when cancelled) otherwise. */
  async setProgress(reservation: Reservation, progress: string): Promise<void> {
    assertProgress(DIALECT, progress);
    return this.#run('setProgress', (db) => {
      const { changes } = db.get('setProgress').run({ job_id: reservation.id, token: reservation.token, progress });
      if (changes !== 1) throw this.refusal(db, 'setProgress', reservation);
    });
  }

  /** Ends a waiting, delayed or active job for good, keeping it as cancelled. */
  async cancel(id: string, options: JobLookupOptions = {}): Promise<CancelOutcome> {
    const queue = lookupQueue(DIALECT, 'cancel', id, options);
    return this.#run('cancel', (db) => {
      const cancelled = db.immediate(() => {
        const now = Date.now();
        const row = db.get('cancelLive').get({ job_id: id, queue, now }) as LiveJobRow | undefined;
        if (row === undefined) return false;
        const record = cancelledRecord(row, now);
        keepFinished(db, [{ jobId: row.job_id, queue: row.queue, state: 'cancelled', record }], this.#bounds, now);
        return true;
      });
      if (cancelled) return 'cancelled';
      return (db.get('isFinished').get({ job_id: id, queue }) as { finished: number }).finished === 1 ? 'finished' : 'not-found';
    });
  }

  /** Claims skip `queue` until resume(), in every process on the file. */
  async pause(queue: string): Promise<void> {
    assertQueue(DIALECT, queue);
    return this.#run('pause', (db) => {
      db.get('pause').run({ queue, now: Date.now() });
    });
  }

  /** Claims take from `queue` again: this process's waiting reserves at once, other processes' at their next poll. */
  async resume(queue: string): Promise<void> {
    assertQueue(DIALECT, queue);
    return this.#run('resume', (db) => {
      if (db.get('resume').run({ queue }).changes > 0) this.#wake(queue);
    });
  }

  /**
   * The error of a settle with `reservation`'s token that changed nothing: LeaseLostError when
   * another delivery holds the job (`present`) or it is gone, JobCancelledError when it is gone
   * because it was cancelled. Looks the job up unless `present` is known to be true.
   */
  refusal(db: SqliteStatements, operation: string, reservation: Reservation, present?: boolean): QueueError {
    if (present === true) return leaseLostError(DIALECT, operation, reservation, true);
    const row = db.get('refused').get({ job_id: reservation.id }) as { present: number; cancelled: number };
    if (row.present === 0 && row.cancelled === 1)
      return new JobCancelledError(`${DIALECT}: ${operation}: job ${reservation.id} was cancelled`);
    return leaseLostError(DIALECT, operation, reservation, row.present === 1);
  }

  /** True when the job of `reservation` is gone because it was cancelled (for extendMany's `'cancelled'`). */
  wasCancelled(db: SqliteStatements, reservation: Reservation): boolean {
    return this.refusal(db, 'extendMany', reservation) instanceof JobCancelledError;
  }
}
