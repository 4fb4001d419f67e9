import { DriverError, LeaseLostError, type QueueError, type Reservation } from '@queuekit/core';
import type { BeanstalkClient } from './client/beanstalk-client.js';

/**
 * A job this driver holds reserved. beanstalkd ties a reservation to the connection that made it
 * (only that connection can delete, release, bury or touch the job), so the job keeps its
 * connection until it is settled.
 */
export interface HeldJob {
  readonly reservation: Reservation;
  readonly jobId: number;
  /** beanstalkd priority to release or bury it with. */
  readonly priority: number;
  /** The job's time-to-run, in ms. */
  readonly ttrMs: number;
  readonly client: BeanstalkClient;
  /** The socket generation it was reserved on: a newer one means the server gave the job back. */
  readonly generation: number;
  /** Epoch ms before which the server surely still has the job reserved (the TTR deadline, estimated low). */
  serverDeadline: number;
  /** Epoch ms when the worker's lease runs out: the driver renews the TTR until then, and then gives the job up. */
  leaseUntil: number;
  /** A renewal is on its way. */
  renewing: boolean;
}

/** Margin under the TTR deadline within which a settle first checks that the job is still held. */
export const DEADLINE_MARGIN_MS = 300;
/** How often the keeper looks for TTRs to renew, in ms. */
const KEEPER_TICK_MS = 100;

/**
 * The jobs a driver holds, by token, and the keeper of their leases: a job's TTR is fixed when it is
 * put, so the driver renews it (`touch`) for as long as the worker's lease lasts; after that the TTR
 * runs out and beanstalkd hands the job to the next reserve.
 */
export class Holdings {
  readonly #held = new Map<string, HeldJob>();
  readonly #onBackgroundError: (error: QueueError) => void;
  readonly #releaseClient: (client: BeanstalkClient) => void;
  #timer: NodeJS.Timeout | undefined;

  /** `releaseClient` takes back the connection of a job whose hold ended without a settle. */
  constructor(onBackgroundError: (error: QueueError) => void, releaseClient: (client: BeanstalkClient) => void) {
    this.#onBackgroundError = onBackgroundError;
    this.#releaseClient = releaseClient;
  }

  /** How many jobs are held. */
  get size(): number {
    return this.#held.size;
  }

  /** Starts holding `job` (and renewing its TTR). */
  add(job: HeldJob): void {
    this.#held.set(job.reservation.token, job);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#renewDue(), KEEPER_TICK_MS);
      this.#timer.unref();
    }
  }

  /**
   * The held job of `reservation`, if this driver holds it (check {@link isKept}: its connection
   * may have dropped it); removed from the holdings when `take` (the settle that ends the hold).
   */
  get(reservation: Reservation, take: boolean): HeldJob | undefined {
    const job = this.#held.get(reservation.token);
    if (job !== undefined && take) this.#forget(reservation.token);
    return job;
  }

  /** Stops holding the job of `token` (settled or lost). */
  #forget(token: string): void {
    this.#held.delete(token);
    if (this.#held.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * Renews the TTR of `job` now (the worker's `extend`): resolves the new lease end, or throws
   * LeaseLostError when the connection no longer holds the job.
   */
  async renew(job: HeldJob, leaseMs: number): Promise<number> {
    const sentAt = Date.now();
    if (!isKept(job) || !(await job.client.touch(job.jobId))) {
      this.#lost(job);
      throw leaseLost('extend', job.reservation);
    }
    job.serverDeadline = Math.max(job.serverDeadline, sentAt + job.ttrMs);
    job.leaseUntil = Math.max(job.leaseUntil, Date.now() + leaseMs);
    return job.leaseUntil;
  }

  /** Forgets every held job (close() closes their connections). */
  clear(): void {
    for (const token of [...this.#held.keys()]) this.#forget(token);
  }

  /** Ends the hold of a job the server no longer counts as this connection's; its connection is free again. */
  #lost(job: HeldJob): void {
    if (this.#held.get(job.reservation.token) !== job) return;
    this.#forget(job.reservation.token);
    this.#releaseClient(job.client);
  }

  /**
   * Each tick: a job whose worker's lease ran out is given up by resetting its connection (the
   * server then makes it available at once, and the next delivery counts it lost), and a job whose
   * TTR is near its end is renewed. Giving up here rather than waiting for the TTR keeps the lease
   * to the tick rather than to whole seconds, and does not depend on beanstalkd timing out a job that
   * was touched (which it does not always do: beanstalkd issue #380).
   */
  #renewDue(): void {
    const now = Date.now();
    for (const job of [...this.#held.values()]) {
      if (!isKept(job)) continue;
      if (job.leaseUntil <= now) {
        this.#forget(job.reservation.token);
        job.client.reset();
        this.#releaseClient(job.client);
        continue;
      }
      // Renew when under half the TTR (at most 1.5 s) is left, so one late tick cannot lose it.
      if (job.renewing || job.serverDeadline - now > Math.min(job.ttrMs / 2, 1_500)) continue;
      job.renewing = true;
      const sentAt = Date.now();
      job.client.touch(job.jobId).then(
        (touched) => {
          job.renewing = false;
          if (touched) {
            job.serverDeadline = sentAt + job.ttrMs;
          } else {
            this.#lost(job);
            this.#onBackgroundError(leaseLost('renewing the TTR', job.reservation));
          }
        },
        (error: unknown) => {
          job.renewing = false;
          if (!isKept(job)) return;
          this.#onBackgroundError(
            new DriverError(`beanstalk: renewing the TTR of job ${job.reservation.id}: ${(error as Error).message}`, { cause: error }),
          );
        },
      );
    }
  }
}

/** True while the connection that reserved `job` is still the one open (so the server still counts it as reserved by it). */
export function isKept(job: HeldJob): boolean {
  return job.client.isOpen && job.client.generation === job.generation;
}

/** True when the job is surely still reserved by its connection for the next command (well before its TTR deadline). */
export function isSafelyHeld(job: HeldJob): boolean {
  return isKept(job) && Date.now() + DEADLINE_MARGIN_MS < job.serverDeadline;
}

/** The LeaseLostError of a settle (`what`) whose reservation no longer holds its job. */
export function leaseLost(what: string, reservation: Reservation): LeaseLostError {
  return new LeaseLostError(
    `beanstalk: ${what} of job ${reservation.id} (queue ${reservation.queue}): the lease was lost ` +
      '(its TTR ran out or its connection closed, and beanstalkd made the job available again)',
  );
}
