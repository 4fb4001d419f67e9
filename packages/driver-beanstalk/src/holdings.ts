import { DriverError, LeaseLostError, type QueueError, type Reservation } from '@queuekit/core';
import type { BeanstalkClient } from './client/beanstalk-client.js';
import type { ReserverPool } from './reserver-pool.js';

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
/** How often the keeper looks for TTRs to renew and leases that ran out, in ms. */
const KEEPER_TICK_MS = 100;

/**
 * The jobs a driver holds, by token, and the keeper of their leases. A job's TTR is fixed when it is
 * put, so the driver renews it (`touch`) for as long as the worker's lease lasts. When the lease
 * runs out unsettled, the job is given up: a connection that held only that job is reset, so the
 * server makes it available at once (the lease holds to the keeper's tick); on a connection that
 * holds others too, the job is left to its TTR, and a command sent on the connection just after
 * the TTR deadline makes sure beanstalkd acts on it (after a `touch` it can fail to time a job out
 * while the connection stays idle: beanstalkd issue #380, reproduced here).
 */
export class Holdings {
  readonly #held = new Map<string, HeldJob>();
  readonly #pool: ReserverPool;
  readonly #onBackgroundError: (error: QueueError) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(pool: ReserverPool, onBackgroundError: (error: QueueError) => void) {
    this.#pool = pool;
    this.#onBackgroundError = onBackgroundError;
  }

  /** How many jobs are held. */
  get size(): number {
    return this.#held.size;
  }

  /** Starts holding `job` (and renewing its TTR). */
  add(job: HeldJob): void {
    this.#held.set(job.reservation.token, job);
    this.#pool.hold(job.client);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), KEEPER_TICK_MS);
      this.#timer.unref();
    }
  }

  /** The held job of `reservation`, if this driver holds it (check {@link isKept}: its connection may have dropped it). */
  get(reservation: Reservation): HeldJob | undefined {
    return this.#held.get(reservation.token);
  }

  /**
   * Ends the hold of `reservation` for a settle: resolves its job while its connection still holds
   * it (marked in use until `pool.done(job.client)`), else undefined.
   */
  take(reservation: Reservation): HeldJob | undefined {
    const job = this.#held.get(reservation.token);
    if (job === undefined) return undefined;
    this.#pool.use(job.client);
    this.#forget(job);
    if (isKept(job)) return job;
    this.#pool.done(job.client);
    return undefined;
  }

  /**
   * Renews the TTR of `job` now (the worker's `extend`): resolves the new lease end, or throws
   * LeaseLostError when the connection no longer holds the job.
   */
  async renew(job: HeldJob, leaseMs: number): Promise<number> {
    const sentAt = Date.now();
    if (!isKept(job) || !(await job.client.touch(job.jobId))) {
      if (this.#held.get(job.reservation.token) === job) this.#forget(job);
      throw leaseLost('extend', job.reservation);
    }
    job.serverDeadline = Math.max(job.serverDeadline, sentAt + job.ttrMs);
    job.leaseUntil = Math.max(job.leaseUntil, Date.now() + leaseMs);
    return job.leaseUntil;
  }

  /** Forgets every held job (close() closes their connections). */
  clear(): void {
    for (const job of [...this.#held.values()]) this.#forget(job);
  }

  #forget(job: HeldJob): void {
    this.#held.delete(job.reservation.token);
    this.#pool.unhold(job.client);
    if (this.#held.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    const now = Date.now();
    for (const job of [...this.#held.values()]) {
      if (!isKept(job)) continue;
      if (job.leaseUntil <= now) {
        this.#expire(job);
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
          } else if (this.#held.get(job.reservation.token) === job) {
            this.#forget(job);
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

  /** The worker's lease of `job` ran out unsettled: give the job up (see the class comment). */
  #expire(job: HeldJob): void {
    this.#forget(job);
    const { client } = job;
    if (this.#pool.jobsOn(client) === 0 && !this.#pool.inUse(client)) {
      client.reset();
      return;
    }
    const nudge = setTimeout(
      () => {
        if (client.generation !== job.generation || !client.isOpen) return;
        client.listTubeUsed().catch((error: unknown) => {
          this.#onBackgroundError(
            new DriverError(`beanstalk: nudging the server to time out job ${job.reservation.id}: ${(error as Error).message}`, {
              cause: error,
            }),
          );
        });
      },
      // The server's deadline is at most a second past the estimate (time-left is whole seconds).
      Math.max(0, job.serverDeadline + 1_100 - Date.now()),
    );
    nudge.unref();
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
