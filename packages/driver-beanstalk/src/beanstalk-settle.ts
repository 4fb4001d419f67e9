import type { JobFailure, Reservation } from '@queuekit/core';
import { BeanstalkClaims } from './beanstalk-claims.js';
import type { BeanstalkDeadLetterStore } from './beanstalk-dead-letter-store.js';
import type { BeanstalkClient } from './client/beanstalk-client.js';
import { type HeldJob, type Holdings, isKept, isSafelyHeld, leaseLost } from './holdings.js';
import type { ReserverPool } from './reserver-pool.js';

/** What settling needs of the driver. */
export interface SettleContext {
  readonly holdings: Holdings;
  readonly pool: ReserverPool;
  /** The connection for commands on jobs this driver does not hold. */
  readonly admin: BeanstalkClient;
  readonly deadLetters: BeanstalkDeadLetterStore;
}

/**
 * Settling a held job, always on the connection that reserved it (beanstalkd's own fencing: another
 * connection cannot release, bury or touch it). `delete` is the exception, since beanstalkd lets any
 * connection delete a ready, delayed or buried job: near its TTR deadline a `touch` first proves the
 * job is still this connection's, so a late ack never deletes a job that went back to the queue.
 */
export class BeanstalkSettle {
  readonly #c: SettleContext;

  constructor(context: SettleContext) {
    this.#c = context;
  }

  async ack(reservation: Reservation): Promise<void> {
    const job = this.#take(reservation);
    if (job === undefined) return this.#ackUnheld(reservation);
    await this.#settling(job, async () => {
      if (!isSafelyHeld(job) && !(await job.client.touch(job.jobId))) return this.#ackUnheld(reservation);
      if (!(await job.client.delete(job.jobId))) return this.#ackUnheld(reservation);
    });
  }

  async release(reservation: Reservation, delayMs: number): Promise<void> {
    const job = this.#take(reservation);
    if (job === undefined) throw leaseLost('release', reservation);
    await this.#settling(job, async () => {
      if (!(await job.client.release(job.jobId, job.priority, delaySeconds(delayMs)))) throw leaseLost('release', reservation);
    });
  }

  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    const outcomes = await Promise.all(
      reservations.map(async (reservation) => {
        const job = this.#take(reservation);
        if (job === undefined) return false;
        return this.#settling(job, () => BeanstalkClaims.giveBackJob(job.client, job.jobId, job.priority, isSafelyHeld(job)));
      }),
    );
    return outcomes.filter(Boolean).length;
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    const job = this.#c.holdings.get(reservation, false);
    if (job === undefined || !isKept(job)) {
      if (job !== undefined) this.#take(reservation);
      throw leaseLost('extend', reservation);
    }
    return this.#c.holdings.renew(job, leaseMs);
  }

  async extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | undefined)[]> {
    return Promise.all(reservations.map((reservation) => this.extend(reservation, leaseMs).catch(() => undefined)));
  }

  /** Records the failure first, then buries the job; a lost lease takes the record back out. */
  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    const job = this.#take(reservation);
    if (job === undefined) throw leaseLost('deadLetter', reservation);
    await this.#settling(job, async () => {
      const record = await this.#c.deadLetters.record(reservation, failure, job.jobId);
      if (!(await job.client.bury(job.jobId, job.priority))) {
        await this.#c.deadLetters.unrecord(record);
        throw leaseLost('deadLetter', reservation);
      }
    });
  }

  /**
   * Ends the hold of `reservation`: its job while its connection still holds it, else undefined
   * (and a connection that dropped the job goes back to the pool).
   */
  #take(reservation: Reservation): HeldJob | undefined {
    const job = this.#c.holdings.get(reservation, true);
    if (job === undefined) return undefined;
    if (isKept(job)) return job;
    this.#c.pool.release(job.client);
    return undefined;
  }

  /** Runs the settle of `job`, then hands its connection back for the next reserve. */
  async #settling<T>(job: HeldJob, settle: () => Promise<T>): Promise<T> {
    try {
      return await settle();
    } finally {
      this.#c.pool.release(job.client);
    }
  }

  /** An ack of a job this driver does not hold: a no-op when the job is gone, LeaseLostError when it is not. */
  async #ackUnheld(reservation: Reservation): Promise<void> {
    const jobId = jobIdOf(reservation);
    if (jobId === undefined || (await this.#c.admin.statsJob(jobId)) === undefined) return;
    throw leaseLost('ack', reservation);
  }
}

/** The beanstalkd job id in a token (`<job id>:<reserves>`), or undefined for a token of another driver. */
function jobIdOf(reservation: Reservation): number | undefined {
  const id = Number(reservation.token.split(':')[0]);
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** beanstalkd delays are whole seconds: rounded up, so a job never runs early. */
export function delaySeconds(delayMs: number): number {
  return delayMs <= 0 ? 0 : Math.ceil(delayMs / 1_000);
}
