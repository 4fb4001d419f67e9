import { onAbort } from '../driver/on-abort.js';
import type { QueueDriver, Reservation } from '../driver/queue-driver.js';
import { encodeFinishedJob, type FinishedJob } from '../envelope/finished-job.js';
import { type JobEnvelope, type JsonValue, toErrorInfo } from '../envelope/job-envelope.js';
import { PayloadSerializer } from '../envelope/payload-serializer.js';
import { InvalidPayloadError } from '../errors/invalid-payload-error.js';
import { JobCancelledError } from '../errors/job-cancelled-error.js';
import { JobPostponedError } from '../errors/job-postponed-error.js';
import { JobTimeoutError } from '../errors/job-timeout-error.js';
import { LeaseLostError } from '../errors/lease-lost-error.js';
import { QueueError } from '../errors/queue-error.js';
import { UnknownJobError } from '../errors/unknown-job-error.js';
import { UnrecoverableError } from '../errors/unrecoverable-error.js';
import { followUpEnvelopes } from '../job/follow-up.js';
import type { JobRegistry, RegisteredJob } from '../job/job-registry.js';
import type { Logger } from '../logger/logger.js';
import { Delivery, type DeliveryOptions } from './delivery.js';
import { JobServices, type RunnableHandler, runnerFor } from './job-runner.js';
import { eventBase, RequeueHelper } from './requeue-helper.js';
import type { WorkerEventMap } from './worker-events.js';

type Emit = <K extends keyof WorkerEventMap>(event: K, ...args: WorkerEventMap[K]) => void;

/**
 * How one delivery ended: `released` when handed back unfinished at shutdown (uncounted);
 * `postponed` when a middleware (or the handler) handed it back with a delay (uncounted);
 * `lease-lost` when another delivery owns the job now; `cancelled` when the job was cancelled while
 * it ran (the driver keeps it as cancelled; nothing is settled); `unsettled` when the settle call
 * itself failed (the lease runs out and the job returns).
 */
export type ExecutionOutcome =
  | 'completed'
  | 'retrying'
  | 'dead-lettered'
  | 'released'
  | 'postponed'
  | 'lease-lost'
  | 'cancelled'
  | 'unsettled';

/** Options of {@link JobExecutor}. */
export interface JobExecutorOptions {
  readonly driver: QueueDriver;
  readonly registry: JobRegistry;
  readonly logger: Logger;
  readonly emit: Emit;
  /** Lease length to renew to, in ms. */
  readonly leaseMs: number;
  /** Heartbeat period, in ms; default leaseMs / 3. */
  readonly heartbeatMs?: number;
  /** Time limit of a delivery whose envelope has no timeoutMs; undefined = none. */
  readonly defaultTimeoutMs?: number;
  /** Lost deliveries (leases that ran out unsettled) a job survives before it is dead-lettered; default 5. */
  readonly maxLostDeliveries?: number;
  /**
   * Acknowledges a completed delivery; default `driver.ack`. The Worker passes its settle
   * pipeline here, which groups acks with the next claim.
   */
  readonly ack?: (reservation: Reservation, record: string | undefined) => Promise<void>;
  readonly serializer?: PayloadSerializer;
  readonly now?: () => number;
}

/** Thrown into a handler's signal when the worker hands the job back at shutdown. */
class ShutdownAbort extends QueueError {
  constructor() {
    super('DRIVER_CLOSED', 'worker is shutting down: the job is released for another worker');
  }
}

/** Aborts a delivery whose time limit ran out (a timer callback, so no closure per job). */
function timeOut(delivery: Delivery, timeoutMs: number): void {
  delivery.abort(new JobTimeoutError(`job ${delivery.name} (${delivery.id}) exceeded its timeout of ${timeoutMs} ms`));
}

/**
 * Runs one reservation: poison and unknown names and over-delivered jobs go to the dead-letter store;
 * otherwise the handler runs with a timeout, a lease heartbeat and an abort signal, and the outcome
 * is settled: ack plus `then`/`finally` follow-ups on success, RequeueHelper on failure, release
 * when the worker is shutting down.
 */
export class JobExecutor {
  readonly requeue: RequeueHelper;
  readonly #o: JobExecutorOptions;
  readonly #serializer: PayloadSerializer;
  readonly #now: () => number;
  readonly #services: JobServices;
  /** What runs for each definition (its handler, or upgrade + schema + middleware around it), made once. */
  readonly #runners = new Map<RegisteredJob, RunnableHandler>();

  constructor(options: JobExecutorOptions) {
    this.#o = options;
    this.#services = new JobServices(options.driver, options.leaseMs);
    this.#serializer = options.serializer ?? new PayloadSerializer();
    this.#now = options.now ?? Date.now;
    this.requeue = new RequeueHelper({
      driver: options.driver,
      logger: options.logger,
      emit: options.emit,
      ...(options.now ? { now: options.now } : {}),
      ...(options.maxLostDeliveries === undefined ? {} : { maxLostDeliveries: options.maxLostDeliveries }),
    });
    this.#ack = options.ack ?? ((reservation, record) => options.driver.ack(reservation, record === undefined ? undefined : { record }));
    this.#deliveryOptions = {
      driver: options.driver,
      leaseMs: options.leaseMs,
      logger: options.logger,
      onProgress: (delivery, progress) => options.emit('progress', { ...eventBase(delivery.reservation), progress }),
      report: (error, during) => options.emit('error', { error, during }),
    };
  }

  readonly #ack: (reservation: Reservation, record: string | undefined) => Promise<void>;
  readonly #deliveryOptions: DeliveryOptions;

  /**
   * Executes a delivery. `shutdown` aborting means: hand the job back unfinished. Driver errors while
   * settling are reported as `error` events, not thrown: the lease then runs out and the job returns.
   * `onHandled` is called once the handler is done (or the job was found poison, unknown or
   * over-delivered), before the outcome is settled with the driver: the worker may go on to its
   * next job while this one is being acknowledged.
   */
  async execute(reservation: Reservation, shutdown?: AbortSignal, onHandled?: () => void): Promise<ExecutionOutcome> {
    try {
      const driver = this.#o.driver;
      if (driver.aroundExecution !== undefined) {
        return await driver.aroundExecution<ExecutionOutcome>(reservation, () => this.#execute(reservation, shutdown, onHandled));
      }
      return await this.#execute(reservation, shutdown, onHandled);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        this.#o.logger.warn('lease lost before the job was settled; another delivery owns it now', { id: reservation.id });
        return 'lease-lost';
      }
      if (error instanceof JobCancelledError) {
        this.#o.emit('cancelled', eventBase(reservation));
        return 'cancelled';
      }
      this.#o.emit('error', { error: error as Error, during: `settling job ${reservation.id}` });
      return 'unsettled';
    }
  }

  /** Running deliveries: renewed by the shared heartbeat, aborted by their shutdown signal. */
  readonly #running = new Set<Delivery>();
  /** Shutdown signals that already have this executor's hook. */
  readonly #hooked = new WeakSet<AbortSignal>();
  #heartbeatTimer: NodeJS.Timeout | undefined;

  /**
   * Tracks `delivery` until it ends: one timer shared by every running delivery renews leases (a
   * timer per job costs an allocation and two list operations each time), and one hook per
   * shutdown signal aborts the deliveries started under it. The timer ticks every half period and
   * renews the deliveries last renewed at least half a period ago, so each lease is renewed between
   * half a period and one period after the last renewal: never later than a timer of its own would.
   */
  #track(delivery: Delivery, heartbeat: boolean): void {
    this.#running.add(delivery);
    const shutdown = delivery.shutdown;
    if (shutdown !== undefined && !this.#hooked.has(shutdown)) {
      this.#hooked.add(shutdown);
      onAbort(shutdown, () => {
        for (const running of this.#running) if (running.shutdown === shutdown) running.abort(new ShutdownAbort());
      });
    }
    if (heartbeat && this.#heartbeatTimer === undefined) {
      const periodMs = this.#o.heartbeatMs ?? Math.max(10, Math.floor(this.#o.leaseMs / 3));
      this.#heartbeatTimer = setInterval(
        () => {
          if (this.#running.size === 0) {
            clearInterval(this.#heartbeatTimer);
            this.#heartbeatTimer = undefined;
            return;
          }
          const now = this.#now();
          const due: Delivery[] = [];
          for (const running of this.#running) {
            if (now - running.renewedAt < periodMs / 2) continue;
            running.renewedAt = now;
            due.push(running);
          }
          if (due.length > 0) this.#renew(due);
        },
        Math.max(1, periodMs / 2),
      );
      this.#heartbeatTimer.unref();
    }
  }

  /**
   * Renews the leases of `due` deliveries: in one call where the driver has `extendMany`, else one
   * call each. A lost lease aborts its delivery; other failures are reported and retried next tick.
   */
  #renew(due: readonly Delivery[]): void {
    const driver = this.#o.driver;
    if (driver.extendMany === undefined || due.length === 1) {
      for (const delivery of due) {
        delivery.renew().catch((error: Error) => {
          if (!(error instanceof LeaseLostError) && !(error instanceof JobCancelledError))
            this.#o.emit('error', { error, during: `extending the lease of job ${delivery.id}` });
        });
      }
      return;
    }
    driver
      .extendMany(
        due.map((delivery) => delivery.reservation),
        this.#o.leaseMs,
      )
      .then(
        (expiries) => {
          expiries.forEach((expiresAt, index) => {
            const delivery = due[index]!;
            if (expiresAt === undefined) {
              delivery.abort(new LeaseLostError(`${driver.name}: the lease of job ${delivery.id} was lost while it ran`));
            } else if (expiresAt === 'cancelled') {
              delivery.abort(new JobCancelledError(`${driver.name}: job ${delivery.id} was cancelled while it ran`));
            }
          });
        },
        (error: Error) => this.#o.emit('error', { error, during: `extending the leases of ${due.length} jobs` }),
      );
  }

  /** The finished-job record a driver with retention keeps of a completed delivery. */
  #finishedRecord(delivery: Delivery, result: unknown): string {
    const { envelope, reservation } = delivery;
    // Built without spreads: this runs once per completed job.
    const record: { -readonly [K in keyof FinishedJob]: FinishedJob[K] } = {
      id: envelope.id,
      queue: reservation.queue,
      name: envelope.name,
      state: 'completed',
      attempts: reservation.attempt,
      createdAt: envelope.createdAt,
      availableAt: envelope.availableAt,
      startedAt: delivery.startedAt,
      finishedAt: this.#now(),
    };
    if (result !== undefined) record.result = result as JsonValue;
    if (delivery.lastProgress !== undefined) record.progress = delivery.lastProgress;
    return encodeFinishedJob(record);
  }

  async #execute(reservation: Reservation, shutdown?: AbortSignal, onHandled?: () => void): Promise<ExecutionOutcome> {
    const { requeue } = this;
    if (reservation.poison !== undefined) {
      onHandled?.();
      await requeue.deadLetter(reservation, 'poison', reservation.poison.error);
      return 'dead-lettered';
    }
    if (requeue.lostTooOften(reservation)) {
      onHandled?.();
      await requeue.deadLetterLost(reservation);
      return 'dead-lettered';
    }
    const envelope = reservation.envelope as JobEnvelope;
    const definition = this.#o.registry.get(envelope.name);
    if (definition === undefined) {
      const known = this.#o.registry.names();
      const error = new UnknownJobError(
        `no handler is registered for job "${envelope.name}" in this worker (registered: ${known.length ? known.join(', ') : 'none'})`,
      );
      onHandled?.();
      await requeue.deadLetter(reservation, 'unknown-job', error);
      return 'dead-lettered';
    }

    const driver = this.#o.driver;
    const started = this.#now();
    const delivery = new Delivery(reservation, envelope, this.#deliveryOptions, shutdown, started);
    this.#track(delivery, driver.capabilities.extend && driver.capabilities.lease !== 'none');
    if (shutdown?.aborted === true) delivery.abort(new ShutdownAbort());
    const timeoutMs = envelope.timeoutMs ?? this.#o.defaultTimeoutMs;
    const timer = timeoutMs === undefined ? undefined : setTimeout(timeOut, timeoutMs, delivery, timeoutMs);
    let result: unknown;
    let failure: unknown;
    let failed = false;
    try {
      let runner = this.#runners.get(definition);
      if (runner === undefined) {
        runner = runnerFor(definition, this.#services);
        this.#runners.set(definition, runner);
      }
      result = await delivery.run(runner);
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      this.#running.delete(delivery);
      delivery.end();
    }
    onHandled?.();
    const durationMs = this.#now() - started;

    if (failed) {
      if (failure instanceof LeaseLostError) return 'lease-lost';
      if (failure instanceof JobCancelledError) {
        this.#o.emit('cancelled', eventBase(reservation));
        return 'cancelled';
      }
      if (failure instanceof ShutdownAbort) {
        await driver.giveBack([reservation]);
        this.#o.emit('released', eventBase(reservation));
        return 'released';
      }
      if (failure instanceof JobPostponedError && driver.postpone !== undefined) {
        await driver.postpone(reservation, { delayMs: failure.delayMs });
        this.#o.emit('postponed', { ...eventBase(reservation), delayMs: failure.delayMs, reason: failure.message });
        return 'postponed';
      }
      if (failure instanceof InvalidPayloadError) {
        // A payload that fails its schema fails the same way on every run: no retry.
        await requeue.deadLetter(reservation, 'invalid-payload', failure);
        return 'dead-lettered';
      }
      this.#o.emit('failed', { ...eventBase(reservation), durationMs, error: toErrorInfo(failure) });
      return requeue.fail(reservation, failure, { timedOut: failure instanceof JobTimeoutError });
    }

    const { callbacks } = envelope;
    if (callbacks.then.length > 0 || callbacks.finally.length > 0) {
      const followUps = [...callbacks.then, ...callbacks.finally];
      try {
        this.#serializer.assertSerializable(result, `result of ${envelope.name}`);
      } catch (error) {
        // A result its follow-ups cannot receive is a bug in the handler, not a passing fault.
        const reason = new UnrecoverableError((error as Error).message, { cause: error });
        this.#o.emit('failed', { ...eventBase(reservation), durationMs, error: toErrorInfo(reason) });
        return requeue.fail(reservation, reason);
      }
      // Fence before dispatching: a delivery whose lease was lost must not fan out follow-ups that
      // the current holder will dispatch too.
      if (driver.capabilities.extend && driver.capabilities.lease !== 'none') await driver.extend(reservation, this.#o.leaseMs);
      const parent = {
        id: envelope.id,
        name: envelope.name,
        status: 'completed' as const,
        ...(result === undefined ? {} : { result: result as JsonValue }),
      };
      await driver.push(followUpEnvelopes(followUps, parent, this.#now()));
    }
    const record = driver.capabilities.retention ? this.#finishedRecord(delivery, result) : undefined;
    await this.#ack(reservation, record);
    this.#o.emit('completed', { ...eventBase(reservation), durationMs, result });
    return 'completed';
  }
}
