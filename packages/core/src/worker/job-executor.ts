import { onAbort } from '../driver/on-abort.js';
import type { QueueDriver, Reservation } from '../driver/queue-driver.js';
import { type JobEnvelope, type JsonValue, toErrorInfo } from '../envelope/job-envelope.js';
import { PayloadSerializer } from '../envelope/payload-serializer.js';
import { JobTimeoutError } from '../errors/job-timeout-error.js';
import { LeaseLostError } from '../errors/lease-lost-error.js';
import { QueueError } from '../errors/queue-error.js';
import { UnknownJobError } from '../errors/unknown-job-error.js';
import { UnrecoverableError } from '../errors/unrecoverable-error.js';
import { followUpEnvelopes } from '../job/follow-up.js';
import type { JobContext } from '../job/job-context.js';
import type { JobRegistry } from '../job/job-registry.js';
import type { Logger } from '../logger/logger.js';
import { eventBase, RequeueHelper } from './requeue-helper.js';
import type { WorkerEventMap } from './worker-events.js';

/** Renews one delivery's lease (fire and forget; failures are reported by the delivery). */
type Heartbeat = () => void;

type Emit = <K extends keyof WorkerEventMap>(event: K, ...args: WorkerEventMap[K]) => void;

/**
 * How one delivery ended: `released` at shutdown; `lease-lost` when another delivery owns the job
 * now; `unsettled` when the settle call itself failed (the lease runs out and the job returns).
 */
export type ExecutionOutcome = 'completed' | 'retrying' | 'dead-lettered' | 'released' | 'lease-lost' | 'unsettled';

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
  readonly serializer?: PayloadSerializer;
  readonly now?: () => number;
}

/** Thrown into a handler's signal when the worker hands the job back at shutdown. */
class ShutdownAbort extends QueueError {
  constructor() {
    super('DRIVER_CLOSED', 'worker is shutting down: the job is released for another worker');
  }
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

  constructor(options: JobExecutorOptions) {
    this.#o = options;
    this.#serializer = options.serializer ?? new PayloadSerializer();
    this.#now = options.now ?? Date.now;
    this.requeue = new RequeueHelper({
      driver: options.driver,
      logger: options.logger,
      emit: options.emit,
      ...(options.now ? { now: options.now } : {}),
    });
  }

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
      this.#o.emit('error', { error: error as Error, during: `settling job ${reservation.id}` });
      return 'unsettled';
    }
  }

  /** Running deliveries whose lease the shared heartbeat renews, with when each was last renewed. */
  readonly #beating = new Map<Heartbeat, number>();
  #heartbeatTimer: NodeJS.Timeout | undefined;

  /**
   * Renews the lease of `beat` while it is registered, through one timer shared by every running
   * delivery (a timer per job costs an allocation and two list operations each time). The timer
   * ticks every half period and renews the deliveries last renewed at least half a period ago, so
   * each lease is renewed between half a period and one period after the last renewal: never later
   * than a timer of its own would. Returns the unsubscribe.
   */
  #beat(beat: Heartbeat): () => void {
    this.#beating.set(beat, this.#now());
    if (this.#heartbeatTimer === undefined) {
      const periodMs = this.#o.heartbeatMs ?? Math.max(10, Math.floor(this.#o.leaseMs / 3));
      this.#heartbeatTimer = setInterval(
        () => {
          if (this.#beating.size === 0) {
            clearInterval(this.#heartbeatTimer);
            this.#heartbeatTimer = undefined;
            return;
          }
          const now = this.#now();
          for (const [running, renewedAt] of this.#beating) {
            if (now - renewedAt < periodMs / 2) continue;
            this.#beating.set(running, now);
            running();
          }
        },
        Math.max(1, periodMs / 2),
      );
      this.#heartbeatTimer.unref();
    }
    return () => this.#beating.delete(beat);
  }

  async #execute(reservation: Reservation, shutdown?: AbortSignal, onHandled?: () => void): Promise<ExecutionOutcome> {
    const { requeue } = this;
    if (reservation.poison !== undefined) {
      onHandled?.();
      await requeue.deadLetter(reservation, 'poison', reservation.poison.error);
      return 'dead-lettered';
    }
    const envelope = reservation.envelope as JobEnvelope;
    if (reservation.deliveryCount > envelope.maxAttempts) {
      const error = new UnrecoverableError(
        `delivered ${reservation.deliveryCount} times with maxAttempts ${envelope.maxAttempts}: earlier deliveries ended without settling (the worker crashed or was killed)`,
      );
      onHandled?.();
      await requeue.deadLetter(reservation, 'max-deliveries', error);
      return 'dead-lettered';
    }
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

    const started = this.#now();
    const timeoutMs = envelope.timeoutMs ?? this.#o.defaultTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let stopBeating: (() => void) | undefined;
    // The AbortController and the logger are made only when the handler asks for them: most
    // handlers never do, and a fast queue pays for every allocation per job.
    let controller: AbortController | undefined;
    let abortReason: unknown;
    let rejectRace: ((reason: unknown) => void) | undefined;
    const abort = (reason: unknown) => {
      if (abortReason !== undefined) return;
      abortReason = reason;
      controller?.abort(reason);
      rejectRace?.(reason);
    };
    const signalOf = () => {
      if (controller === undefined) {
        controller = new AbortController();
        if (abortReason !== undefined) controller.abort(abortReason);
      }
      return controller.signal;
    };
    const stopOnShutdown = shutdown === undefined ? undefined : onAbort(shutdown, () => abort(new ShutdownAbort()));
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => abort(new JobTimeoutError(`job ${envelope.name} (${envelope.id}) exceeded its timeout of ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
    const driver = this.#o.driver;
    const extendLease = async (leaseMs: number = this.#o.leaseMs): Promise<number> => {
      try {
        return await driver.extend(reservation, leaseMs);
      } catch (error) {
        if (error instanceof LeaseLostError) abort(error);
        throw error;
      }
    };
    if (driver.capabilities.extend && driver.capabilities.lease !== 'none') {
      stopBeating = this.#beat(() => {
        extendLease().catch((error: Error) => {
          if (!(error instanceof LeaseLostError)) this.#o.emit('error', { error, during: `extending the lease of job ${envelope.id}` });
        });
      });
    }
    let log: Logger | undefined;
    const parentLogger = this.#o.logger;
    const ctx: JobContext = {
      id: envelope.id,
      name: envelope.name,
      queue: reservation.queue,
      attempt: reservation.deliveryCount,
      maxAttempts: envelope.maxAttempts,
      get signal() {
        return signalOf();
      },
      get log() {
        log ??= parentLogger.child({ job: envelope.name, jobId: envelope.id });
        return log;
      },
      parent: envelope.parent,
      extendLease,
      envelope,
    };

    let result: unknown;
    let failure: unknown;
    let failed = false;
    try {
      // One promise settled by whichever comes first: the handler, or an abort (timeout, shutdown,
      // lost lease). A handler that throws synchronously rejects it too.
      result = await new Promise<unknown>((resolve, reject) => {
        if (abortReason !== undefined) return reject(abortReason);
        rejectRace = reject;
        try {
          Promise.resolve(definition.handler(envelope.payload as never, ctx)).then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      });
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      if (timer) clearTimeout(timer);
      stopBeating?.();
      stopOnShutdown?.();
    }
    onHandled?.();
    const durationMs = this.#now() - started;

    if (failed) {
      if (failure instanceof LeaseLostError) return 'lease-lost';
      if (failure instanceof ShutdownAbort) {
        await driver.release(reservation, { delayMs: 0 });
        this.#o.emit('released', eventBase(reservation));
        return 'released';
      }
      this.#o.emit('failed', { ...eventBase(reservation), durationMs, error: toErrorInfo(failure) });
      return requeue.fail(reservation, failure, { timedOut: failure instanceof JobTimeoutError });
    }

    const followUps = [...envelope.callbacks.then, ...envelope.callbacks.finally];
    if (followUps.length > 0) {
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
    await driver.ack(reservation);
    this.#o.emit('completed', { ...eventBase(reservation), durationMs, result });
    return 'completed';
  }
}
