import type { QueueDriver, Reservation } from '../driver/queue-driver.js';
import type { JobEnvelope, ParentInfo } from '../envelope/job-envelope.js';
import { LeaseLostError } from '../errors/lease-lost-error.js';
import type { JobContext } from '../job/job-context.js';
import type { Logger } from '../logger/logger.js';

/** A handler as the executor calls it. */
type Handler = (payload: never, ctx: JobContext) => unknown;

/**
 * One running delivery, and the `ctx` its handler gets: one object per job instead of a context
 * with getters plus the closures for abort, signal, logger and lease renewal (a fast queue pays
 * for every allocation per job, twice: once to make it, once to collect it). The AbortController
 * and the child logger are made only when the handler asks for them.
 */
export class Delivery implements JobContext {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly parent: ParentInfo | undefined;
  readonly envelope: JobEnvelope;
  /** The reservation this delivery runs. */
  readonly reservation: Reservation;
  /** The worker's shutdown signal this delivery was started under, if any. */
  readonly shutdown: AbortSignal | undefined;
  /** When the lease was last renewed (or the delivery started), in the executor's clock (ms). */
  renewedAt: number;
  readonly #driver: QueueDriver;
  readonly #leaseMs: number;
  readonly #parentLogger: Logger;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #rejectRun: ((reason: unknown) => void) | undefined;
  #log: Logger | undefined;
  #extend: ((leaseMs?: number) => Promise<number>) | undefined;

  /**
   * @param options the executor's driver, lease length and logger (its own options object, so a
   *   delivery costs no options object of its own)
   * @param now when the delivery starts, in the executor's clock (ms)
   */
  constructor(
    reservation: Reservation,
    envelope: JobEnvelope,
    options: { readonly driver: QueueDriver; readonly leaseMs: number; readonly logger: Logger },
    shutdown: AbortSignal | undefined,
    now: number,
  ) {
    this.id = envelope.id;
    this.name = envelope.name;
    this.queue = reservation.queue;
    this.attempt = reservation.attempt;
    this.maxAttempts = envelope.maxAttempts;
    this.parent = envelope.parent;
    this.envelope = envelope;
    this.reservation = reservation;
    this.shutdown = shutdown;
    this.renewedAt = now;
    this.#driver = options.driver;
    this.#leaseMs = options.leaseMs;
    this.#parentLogger = options.logger;
  }

  /** Fires on timeout, on a lost lease, and when shutdown's grace period runs out. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Logger bound to this job. */
  get log(): Logger {
    this.#log ??= this.#parentLogger.child({ job: this.name, jobId: this.id });
    return this.#log;
  }

  /** Prolongs the lease now; bound, so a handler may destructure it from `ctx`. */
  get extendLease(): (leaseMs?: number) => Promise<number> {
    this.#extend ??= (leaseMs?: number) => this.renew(leaseMs);
    return this.#extend;
  }

  /** Renews the lease for `leaseMs` (default: the worker's lease); a lost lease aborts the delivery. */
  async renew(leaseMs: number = this.#leaseMs): Promise<number> {
    try {
      return await this.#driver.extend(this.reservation, leaseMs);
    } catch (error) {
      if (error instanceof LeaseLostError) this.abort(error);
      throw error;
    }
  }

  /** Aborts the delivery once: its signal fires and run() rejects with `reason`. */
  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    this.#rejectRun?.(reason);
  }

  /**
   * Runs the handler: settles with whichever comes first, the handler or an abort (timeout,
   * shutdown, lost lease). A handler that throws synchronously rejects it too.
   */
  run(handler: Handler): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.#abortReason !== undefined) return reject(this.#abortReason);
      this.#rejectRun = reject;
      try {
        Promise.resolve(handler(this.envelope.payload as never, this)).then(resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
  }
}
