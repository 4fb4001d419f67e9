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
import type pg from 'pg';
import { checkOut } from './checked-out-client.js';
import { assertProgress, cancelledRecord, finishedInfo, type LiveJobRow, liveInfo, lookupQueue, type PruneBounds } from './job-rows.js';
import { leaseLostError } from './lease-lost.js';
import { assertQueue } from './rows.js';
import type { PostgresSql } from './sql/postgres-sql.js';

const DIALECT = 'postgres';

/** What the job members borrow from their driver. */
export interface PostgresJobsContext {
  readonly pool: pg.Pool;
  readonly sql: PostgresSql;
  /** The NOTIFY channel a resume is announced on. */
  readonly channel: string;
  /** The bounds a cancel prunes its queue's finished jobs by. */
  readonly bounds: PruneBounds;
  /** Runs one operation the way the driver runs its own (open check, migration, error wrapping). */
  run<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  /** Wakes this process's waiting claims for `queue`. */
  wake(queue: string): void;
  /** Reports an error no caller waits for (a ROLLBACK that failed after a failed cancel). */
  backgroundError(operation: string, error: unknown): void;
}

/**
 * The PostgreSQL members of jobs you can look up and steer: `getJob` and `listJobs` over `jobs` and
 * `finished_jobs`, progress stored with the held job, `cancel` (the live row deleted and its
 * cancelled record kept in one transaction), `pause`/`resume` through `paused_queues` (a resume
 * NOTIFYs the queue, so a reserve waiting in any process wakes), and the check that tells a
 * cancelled job from a lost lease.
 */
export class PostgresJobs {
  readonly #context: PostgresJobsContext;

  constructor(context: PostgresJobsContext) {
    this.#context = context;
  }

  /** The job with this id (live first, then the finished ones kept); undefined when neither has it. */
  async getJob(id: string, options: JobLookupOptions = {}): Promise<JobInfo | undefined> {
    const queue = lookupQueue(DIALECT, 'getJob', id, options);
    return this.#context.run('getJob', async () => {
      const { pool, sql } = this.#context;
      const live = (await pool.query(sql.liveJob, [id, queue])).rows[0] as LiveJobRow | undefined;
      if (live !== undefined) return liveInfo(live);
      const finished = (await pool.query(sql.finishedJob, [id, queue])).rows[0] as { record: string } | undefined;
      return finished === undefined ? undefined : finishedInfo(finished.record);
    });
  }

  /** Jobs of one queue in one state: in run order, or most recently finished first. */
  async listJobs(options: JobListOptions): Promise<JobInfo[]> {
    const { queue, state, limit, offset } = jobListPaging(DIALECT, options);
    return this.#context.run('listJobs', async () => {
      const { pool, sql } = this.#context;
      if (state === 'completed' || state === 'cancelled') {
        const { rows } = await pool.query(sql.listFinished, [queue, state, limit, offset]);
        return (rows as { record: string }[]).map((row) => finishedInfo(row.record));
      }
      const statement = state === 'waiting' ? sql.listWaiting : state === 'delayed' ? sql.listDelayed : sql.listActive;
      const { rows } = await pool.query(statement, [queue, limit, offset]);
      return (rows as LiveJobRow[]).map(liveInfo);
    });
  }

  /** Stores the held job's progress (JSON text); LeaseLostError (JobCancelledError when cancelled) otherwise. */
  async setProgress(reservation: Reservation, progress: string): Promise<void> {
    assertProgress(DIALECT, progress);
    return this.#context.run('setProgress', async () => {
      const { rowCount } = await this.#context.pool.query(this.#context.sql.setProgress, [reservation.id, reservation.token, progress]);
      if (rowCount !== 1) throw await this.refusal('setProgress', reservation);
    });
  }

  /** Ends a waiting, delayed or active job for good, keeping it as cancelled. */
  async cancel(id: string, options: JobLookupOptions = {}): Promise<CancelOutcome> {
    const queue = lookupQueue(DIALECT, 'cancel', id, options);
    return this.#context.run('cancel', async () => {
      const { pool, sql, bounds } = this.#context;
      const { client, release } = await checkOut(pool, (error) => this.#context.backgroundError('cancel connection', error));
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const row = (await client.query(sql.cancelLive, [id, queue])).rows[0] as (LiveJobRow & { now: number }) | undefined;
        if (row !== undefined) {
          const record = cancelledRecord(row, row.now);
          await client.query(sql.keepCancelled, [row.job_id, row.queue, record, bounds.count, bounds.ageMs, bounds.every]);
        }
        await client.query('COMMIT');
        if (row !== undefined) return 'cancelled';
      } catch (error) {
        // The cancel's own error is the one to report; a failed ROLLBACK means the connection went too.
        await client.query('ROLLBACK').catch((rollback: Error) => {
          broken = rollback;
          this.#context.backgroundError('cancel rollback', rollback);
        });
        throw error;
      } finally {
        release(broken);
      }
      const { rows } = await pool.query(sql.isFinished, [id, queue]);
      return (rows[0] as { finished: boolean }).finished ? 'finished' : 'not-found';
    });
  }

  /** Claims skip `queue` until resume(), in every process on the schema. */
  async pause(queue: string): Promise<void> {
    assertQueue(DIALECT, queue);
    return this.#context.run('pause', async () => {
      await this.#context.pool.query(this.#context.sql.pause, [queue]);
    });
  }

  /** Claims take from `queue` again; the NOTIFY wakes reserves waiting on it in every process. */
  async resume(queue: string): Promise<void> {
    assertQueue(DIALECT, queue);
    return this.#context.run('resume', async () => {
      await this.#context.pool.query(this.#context.sql.resume, [queue, this.#context.channel]);
      this.#context.wake(queue);
    });
  }

  /**
   * The error of a settle with `reservation`'s token that changed nothing: LeaseLostError when
   * another delivery holds the job (`present`) or it is gone, JobCancelledError when it is gone
   * because it was cancelled. Looks the job up unless `present` is known to be true.
   */
  async refusal(operation: string, reservation: Reservation, present?: boolean): Promise<QueueError> {
    if (present === true) return leaseLostError(DIALECT, operation, reservation, true);
    const { rows } = await this.#context.pool.query(this.#context.sql.refused, [reservation.id]);
    const row = rows[0] as { present: boolean; cancelled: boolean };
    if (!row.present && row.cancelled) {
      return new JobCancelledError(`${DIALECT}: ${operation}: job ${reservation.id} was cancelled`);
    }
    return leaseLostError(DIALECT, operation, reservation, row.present);
  }

  /** Which of `ids` are gone because they were cancelled (for extendMany's `'cancelled'`). */
  async cancelledAmong(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const { rows } = await this.#context.pool.query(this.#context.sql.cancelledAmong, [ids]);
    return new Set((rows as { job_id: string }[]).map((row) => row.job_id));
  }
}
