import type { QueueDriver, Reservation } from '../driver/queue-driver.js';
import type { JobEnvelope, JsonValue } from '../envelope/job-envelope.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { JobCancelledError } from '../errors/job-cancelled-error.js';
import { LeaseLostError } from '../errors/lease-lost-error.js';
import type { JobContext } from '../job/job-context.js';
import type { Logger } from '../logger/logger.js';

/** A handler as the executor calls it. */
type Handler = (payload: never, ctx: JobContext) => unknown;

/** Largest progress value, in bytes of JSON. */
export const MAX_PROGRESS_BYTES = 16 * 1024;
/** Progress writes of one job are at least this far apart, in ms; the last value is always written. */
export const PROGRESS_INTERVAL_MS = 250;

/** What a delivery needs of its executor: its own options object, so a delivery costs none of its own. */
export interface DeliveryOptions {
  readonly driver: QueueDriver;
  readonly leaseMs: number;
  readonly logger: Logger;
  /** Called with each progress value as it is reported (the worker's `progress` event). */
  readonly onProgress?: (delivery: Delivery, progress: JsonValue) => void;
  /** Reports a failed progress write; the next value is written anyway. */
  readonly report: (error: Error, during: string) => void;
}

/**
 * One running delivery: the executor's bookkeeping (lease renewal, abort, progress writes) and the
 * `ctx` its handler gets. `ctx` is a plain object of its own members, so a handler may copy or
 * destructure it; the members that need the delivery are closures over it.
 */
export class Delivery {
  readonly id: string;
  readonly name: string;
  readonly envelope: JobEnvelope;
  /** The reservation this delivery runs. */
  readonly reservation: Reservation;
  /** The worker's shutdown signal this delivery was started under, if any. */
  readonly shutdown: AbortSignal | undefined;
  /** When the handler started, in the executor's clock (ms). */
  readonly startedAt: number;
  /** When the lease was last renewed (or the delivery started), in the executor's clock (ms). */
  renewedAt: number;
  /** The handler's context. */
  readonly ctx: JobContext;
  /** The last progress reported; undefined when none was. */
  lastProgress: JsonValue | undefined;
  readonly #o: DeliveryOptions;
  /** Made when the handler first reads `ctx.signal`: most handlers never do, and each costs. */
  #controller: AbortController | undefined;
  /** Why the delivery was aborted; set once. */
  #aborted: { readonly reason: unknown } | undefined;
  #log: Logger | undefined;
  #rejectRun: ((reason: unknown) => void) | undefined;
  /** Progress JSON waiting to be written, the write in flight, and when the last one started. */
  #pendingProgress: string | undefined;
  #progressWriting = false;
  #progressWrittenAt = 0;
  #progressTimer: NodeJS.Timeout | undefined;
  #ended = false;

  /** @param now when the delivery starts, in the executor's clock (ms) */
  constructor(reservation: Reservation, envelope: JobEnvelope, options: DeliveryOptions, shutdown: AbortSignal | undefined, now: number) {
    this.id = envelope.id;
    this.name = envelope.name;
    this.envelope = envelope;
    this.reservation = reservation;
    this.shutdown = shutdown;
    this.startedAt = now;
    this.renewedAt = now;
    this.#o = options;
    this.ctx = new HandlerContext(this, envelope, reservation);
  }

  /** The handler's logger, made on first read. */
  handlerLog(): Logger {
    this.#log ??= this.#o.logger.child({ job: this.name, jobId: this.id });
    return this.#log;
  }

  /** The handler's signal (ctx.signal), made on first read. */
  handlerSignal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted !== undefined) this.#controller.abort(this.#aborted.reason);
    }
    return this.#controller.signal;
  }

  /** Renews the lease for `leaseMs` (default: the worker's lease); a lost lease or a cancel aborts the delivery. */
  async renew(leaseMs: number = this.#o.leaseMs): Promise<number> {
    try {
      return await this.#o.driver.extend(this.reservation, leaseMs);
    } catch (error) {
      if (error instanceof LeaseLostError || error instanceof JobCancelledError) this.abort(error);
      throw error;
    }
  }

  /** Aborts the delivery once: its signal fires and run() rejects with `reason`. */
  abort(reason: unknown): void {
    if (this.#aborted !== undefined) return;
    this.#aborted = { reason };
    this.#controller?.abort(reason);
    this.#rejectRun?.(reason);
  }

  /** Why the delivery was aborted; undefined while it was not. */
  get abortReason(): unknown {
    return this.#aborted?.reason;
  }

  /**
   * Runs the handler: settles with whichever comes first, the handler or an abort (timeout,
   * shutdown, lost lease, cancel). A handler that throws synchronously rejects it too.
   */
  run(handler: Handler): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.#aborted !== undefined) return reject(this.#aborted.reason);
      this.#rejectRun = reject;
      try {
        Promise.resolve(handler(this.envelope.payload as never, this.ctx)).then(resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** The handler is done: progress not yet written is dropped (the finished record carries the last value). */
  end(): void {
    this.#ended = true;
    this.#pendingProgress = undefined;
    if (this.#progressTimer !== undefined) clearTimeout(this.#progressTimer);
  }

  /** Reports progress for the handler (ctx.progress). */
  handlerProgress(value: JsonValue): void {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw new InvalidArgumentError(`progress of job ${this.name} (${this.id}): not JSON: ${(error as Error).message}`);
    }
    if (text === undefined)
      throw new InvalidArgumentError(`progress of job ${this.name} (${this.id}): expected a number or JSON, got ${typeof value}`);
    if (text.length > MAX_PROGRESS_BYTES && Buffer.byteLength(text, 'utf8') > MAX_PROGRESS_BYTES) {
      throw new InvalidArgumentError(
        `progress of job ${this.name} (${this.id}): ${Buffer.byteLength(text, 'utf8')} bytes of JSON, at most ${MAX_PROGRESS_BYTES} allowed`,
      );
    }
    if (this.#ended) return;
    this.lastProgress = value;
    this.#o.onProgress?.(this, value);
    if (this.#o.driver.setProgress === undefined) return;
    this.#pendingProgress = text;
    this.#writeProgress();
  }

  /** Writes the pending progress now, or when the last write is PROGRESS_INTERVAL_MS old and done. */
  #writeProgress(): void {
    if (this.#pendingProgress === undefined || this.#progressWriting || this.#progressTimer !== undefined || this.#ended) return;
    const waitMs = this.#progressWrittenAt + PROGRESS_INTERVAL_MS - Date.now();
    if (waitMs > 0) {
      this.#progressTimer = setTimeout(() => {
        this.#progressTimer = undefined;
        this.#writeProgress();
      }, waitMs);
      this.#progressTimer.unref();
      return;
    }
    const text = this.#pendingProgress;
    this.#pendingProgress = undefined;
    this.#progressWriting = true;
    this.#progressWrittenAt = Date.now();
    const setProgress = this.#o.driver.setProgress as NonNullable<QueueDriver['setProgress']>;
    setProgress
      .call(this.#o.driver, this.reservation, text)
      .catch((error: Error) => {
        // A lost lease or a cancel ends the run through the heartbeat; other failures are reported.
        if (!(error instanceof LeaseLostError) && !(error instanceof JobCancelledError)) {
          this.#o.report(error, `storing the progress of job ${this.id}`);
        }
      })
      .finally(() => {
        this.#progressWriting = false;
        this.#writeProgress();
      });
  }
}

/**
 * The `ctx` a handler gets: a plain object of its own members, so a handler may copy or destructure
 * it. `signal` and `log` are own enumerable getters (a spread copy reads them, so it keeps them),
 * made on first read, as most handlers use neither; they are defined with the same two descriptors
 * on every ctx, so all share one hidden class (a getter in an object literal costs a new closure
 * and a slow property definition per job).
 */
class HandlerContext implements JobContext {
  static readonly #signal: PropertyDescriptor = {
    get(this: HandlerContext) {
      return this.#delivery.handlerSignal();
    },
    enumerable: true,
  };
  static readonly #log: PropertyDescriptor = {
    get(this: HandlerContext) {
      return this.#delivery.handlerLog();
    },
    enumerable: true,
  };
  declare readonly signal: AbortSignal;
  declare readonly log: Logger;
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly parent: JobEnvelope['parent'];
  readonly envelope: JobEnvelope;
  readonly extendLease: (leaseMs?: number) => Promise<number>;
  readonly progress: (value: JsonValue) => void;
  readonly #delivery: Delivery;

  constructor(delivery: Delivery, envelope: JobEnvelope, reservation: Reservation) {
    this.id = envelope.id;
    this.name = envelope.name;
    this.queue = reservation.queue;
    this.attempt = reservation.attempt;
    this.maxAttempts = envelope.maxAttempts;
    this.parent = envelope.parent;
    this.envelope = envelope;
    this.extendLease = (leaseMs?: number) => delivery.renew(leaseMs);
    this.progress = (value: JsonValue) => delivery.handlerProgress(value);
    this.#delivery = delivery;
    Object.defineProperty(this, 'signal', HandlerContext.#signal);
    Object.defineProperty(this, 'log', HandlerContext.#log);
  }
}
