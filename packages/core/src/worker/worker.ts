import { EventEmitter, setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { isValidQueueName } from '../driver/default-capabilities.js';
import type { QueueDriver, Reservation } from '../driver/queue-driver.js';
import { DEFAULT_QUEUE } from '../envelope/create-envelope.js';
import type { PayloadSerializer } from '../envelope/payload-serializer.js';
import { ConfigError } from '../errors/config-error.js';
import { quoteInput } from '../errors/quote-input.js';
import { JobRegistry, type RegisteredJob } from '../job/job-registry.js';
import { type Logger, silentLogger } from '../logger/logger.js';
import type { RateLimitRule, RateLimitStore } from '../rate-limit/rate-limit-store.js';
import { type NamedRateLimit, RateLimiter, sleep } from '../rate-limit/rate-limiter.js';
import { JobExecutor } from './job-executor.js';
import { assertMiddlewareSupported } from './job-runner.js';
import { DEFAULT_MAX_LOST_DELIVERIES } from './requeue-helper.js';
import { SettlePipeline } from './settle-pipeline.js';
import { StallDetector } from './stall-detector.js';
import type { StopReason, WorkerEventMap } from './worker-events.js';

/** Rate limits a worker honours before taking jobs. */
export interface WorkerRateLimitOptions {
  /** Where buckets live; share one backend-backed store across processes for a global limit. */
  readonly store: RateLimitStore;
  /** A queue-wide bucket per queue name, shared by all of the queue's jobs. Queues without a rule have no queue-wide limit. */
  readonly queues?: Readonly<Record<string, RateLimitRule>>;
  /**
   * A bucket per group within a queue (needs `groupKey`): each group of a queue named here gets its
   * own bucket (`queue:group`) under this rule, separate from the queue-wide one. A job whose group
   * is out of tokens is postponed (where the driver can) so the worker goes on with other groups.
   */
  readonly groups?: Readonly<Record<string, RateLimitRule>>;
  /** The group of a job (e.g. its tenant); undefined puts the job in no group. Needs `groups`. */
  readonly groupKey?: (reservation: Reservation) => string | undefined;
  /**
   * Budgets shared by several queues, by name (`{ 'stripe-api': { limit: 25, intervalMs: 1_000,
   * queues: ['invoices', 'refunds'] } }`): a queue is claimed from only while its named budgets
   * have tokens, and each of its jobs takes one. Workers over one shared store that name the same
   * limit share its bucket, whichever queues they serve.
   */
  readonly limits?: Readonly<Record<string, NamedRateLimit>>;
}

/** How a worker claims grouped jobs (see {@link WorkerOptions.groups}). */
export interface WorkerGroupOptions {
  /**
   * Most jobs of one group (`job.group(key)`) leased at once across every worker of the backend
   * (an integer >= 1); a group's further jobs wait until one of them is settled or its lease runs out.
   */
  readonly concurrency: number;
}

/** Options of {@link Worker}. */
export interface WorkerOptions {
  readonly driver: QueueDriver;
  /** Handlers this worker runs. */
  readonly jobs: JobRegistry | readonly RegisteredJob[];
  /** Queues in priority order: a job in an earlier queue is taken first. Default `['default']`. */
  readonly queues?: readonly string[];
  /** Jobs run at once; default 1. */
  readonly concurrency?: number;
  /**
   * Lease per delivery, renewed by a heartbeat while the handler runs; default 3,000 ms. A worker
   * that dies holds its jobs this long at most before another worker takes them over.
   */
  readonly leaseMs?: number;
  /** Heartbeat period (one renewal call for every running job where the driver can); default leaseMs / 3. */
  readonly heartbeatMs?: number;
  /**
   * Deliveries of one job that may be lost with their worker (its lease ran out unsettled: a
   * crash, a kill, a hang) before the job is dead-lettered as `max-deliveries` instead of run
   * again; default 5. Lost deliveries are not attempts: `maxAttempts` counts failed runs only.
   */
  readonly maxLostDeliveries?: number;
  /**
   * Jobs the worker may claim ahead of its free slots, held for the next slot and given back
   * uncounted when not started within a moment (drivers with `capabilities.batch`); default 32,
   * 0 claims only for free slots. How far ahead it claims adapts to how fast jobs finish.
   */
  readonly prefetch?: number;
  /** How long one reserve call waits for work; default 5,000 ms. */
  readonly waitMs?: number;
  /** Pause after a driver error before reserving again; default 1,000 ms. */
  readonly errorBackoffMs?: number;
  /** Time limit of a job that sets none; default none. */
  readonly defaultTimeoutMs?: number;
  /** How long stop() lets in-flight jobs finish before releasing them; default 30,000 ms. */
  readonly shutdownGraceMs?: number;
  /**
   * How many finished jobs may still be settling with the driver (acknowledged, retried,
   * dead-lettered) while the worker goes on to its next job; default max(256, 2 × concurrency):
   * room for one batch of acks in flight while the next batch runs. The handler concurrency stays
   * `concurrency`; a settle in flight runs no user code. After a crash up to this many finished
   * jobs can run again (at-least-once). 0 settles each job before taking the next.
   */
  readonly maxSettling?: number;
  /** Stop after this many jobs were taken. */
  readonly maxJobs?: number;
  /** Stop reserving after this long, in ms. */
  readonly maxRuntimeMs?: number;
  /** Stop reserving once the resident set exceeds this many MiB. */
  readonly maxMemoryMb?: number;
  /** Stop when a reserve finds nothing and no job is in flight (a drain, `queue work --once`). */
  readonly stopWhenEmpty?: boolean;
  /** Stop gracefully on SIGTERM and SIGINT; default false. */
  readonly handleSignals?: boolean;
  readonly rateLimit?: WorkerRateLimitOptions;
  /**
   * Claim group by group, enforced by the backend in the claim (drivers with
   * `capabilities.groups`; others refuse it with a ConfigError): the worker takes turns between
   * the groups of a queue, so one group's backlog does not hold up another's jobs, and leases at
   * most `concurrency` jobs of one group at once, counted across every worker. Give every worker
   * of the queue the same value.
   */
  readonly groups?: WorkerGroupOptions;
  /** Who this worker is, kept with each lease it holds where the driver can (job lookups show it); default `host:pid`. */
  readonly holder?: string;
  readonly logger?: Logger;
  readonly serializer?: PayloadSerializer;
}

/** Default lease: short, so that a dead worker's jobs start elsewhere within seconds; the heartbeat keeps live jobs' leases. */
const DEFAULT_LEASE_MS = 3_000;
/** Default of {@link WorkerOptions.prefetch}. */
const DEFAULT_PREFETCH = 32;
/** How long a job claimed ahead waits for a slot before it is given back, in ms. */
const HOLD_MS = 50;

type Listener<K extends keyof WorkerEventMap> = (...args: WorkerEventMap[K]) => void;

const positive = (value: number | undefined, key: string, fallback: number, allowZero = false): number => {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result < 0 || (!allowZero && result === 0)) {
    throw new ConfigError(`worker option ${key}: expected a number ${allowZero ? '>= 0' : '> 0'}, got ${quoteInput(value)}`);
  }
  return result;
};

/** The `groups` option checked against the driver: its per-group concurrency, or undefined. */
function groupConcurrency(options: WorkerOptions): number | undefined {
  const { groups, driver } = options;
  if (groups === undefined) return undefined;
  const value = (groups as { concurrency?: unknown } | null)?.concurrency;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`worker option groups.concurrency: expected an integer >= 1, got ${quoteInput(value)}`);
  }
  if (!driver.capabilities.groups) {
    throw new ConfigError(
      `worker option groups: the ${driver.name} driver cannot enforce per-group concurrency in its claims (capabilities.groups is false)`,
    );
  }
  return value;
}

/**
 * Reserves jobs from several queues in priority order and runs them, `concurrency` at a time, each
 * through the {@link JobExecutor}. Coordinates the lifecycle: limits (maxJobs, maxRuntimeMs,
 * memory), rate limits, graceful shutdown (stop reserving, let in-flight jobs finish within the
 * grace period, then hand the rest back uncounted), and lifecycle events.
 */
export class Worker {
  readonly driver: QueueDriver;
  readonly registry: JobRegistry;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly #events = new EventEmitter();
  readonly #executor: JobExecutor;
  readonly #options: WorkerOptions;
  readonly #leaseMs: number;
  readonly #waitMs: number;
  readonly #graceMs: number;
  readonly #maxSettling: number;
  readonly #log: Logger;
  readonly #holder: string;
  readonly #limiter: RateLimiter | undefined;
  readonly #prefetch: number;
  /** Per-group concurrency said to the driver with every claim; undefined claims ignore groups. */
  readonly #groupConcurrency: number | undefined;
  /** Notices event-loop stalls as long as a heartbeat period: enough to doubt a claim's leases. */
  readonly #stall: StallDetector;
  #pipeline: SettlePipeline | undefined;
  #stopReserving = new AbortController();
  #shutdown = new AbortController();
  #inFlight = new Set<Promise<unknown>>();
  /** Deliveries whose handler is done and whose settle call is still in flight. */
  #settling = new Set<Promise<unknown>>();
  /** Slots waiting for a settle to finish because maxSettling were in flight. */
  #settleWaiters: (() => void)[] = [];
  #taken = 0;
  #processed = 0;
  #running: Promise<void> | undefined;
  #stopReason: StopReason | undefined;
  #idle = false;
  #startedAt = 0;
  #signalHandler: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.driver = options.driver;
    this.registry = options.jobs instanceof JobRegistry ? options.jobs : new JobRegistry(options.jobs);
    assertMiddlewareSupported(this.registry, options.driver);
    this.queues = options.queues ?? [DEFAULT_QUEUE];
    if (this.queues.length === 0) throw new ConfigError('worker option queues: expected at least one queue name');
    for (const queue of this.queues) {
      if (!isValidQueueName(queue)) throw new ConfigError(`worker option queues: invalid queue name ${quoteInput(queue)}`);
    }
    this.concurrency = positive(options.concurrency, 'concurrency', 1);
    if (!Number.isInteger(this.concurrency))
      throw new ConfigError(`worker option concurrency: expected an integer, got ${options.concurrency}`);
    this.#leaseMs = positive(options.leaseMs, 'leaseMs', DEFAULT_LEASE_MS);
    this.#waitMs = positive(options.waitMs, 'waitMs', 5_000, true);
    this.#graceMs = positive(options.shutdownGraceMs, 'shutdownGraceMs', 30_000, true);
    this.#maxSettling = positive(options.maxSettling, 'maxSettling', Math.max(256, 2 * this.concurrency), true);
    if (!Number.isInteger(this.#maxSettling))
      throw new ConfigError(`worker option maxSettling: expected an integer, got ${options.maxSettling}`);
    if (options.maxJobs !== undefined) positive(options.maxJobs, 'maxJobs', 1);
    const maxLostDeliveries = positive(options.maxLostDeliveries, 'maxLostDeliveries', DEFAULT_MAX_LOST_DELIVERIES, true);
    if (!Number.isInteger(maxLostDeliveries))
      throw new ConfigError(`worker option maxLostDeliveries: expected an integer, got ${options.maxLostDeliveries}`);
    this.#prefetch = positive(options.prefetch, 'prefetch', DEFAULT_PREFETCH, true);
    if (!Number.isInteger(this.#prefetch)) throw new ConfigError(`worker option prefetch: expected an integer, got ${options.prefetch}`);
    this.#log = options.logger ?? silentLogger;
    this.#holder = options.holder ?? `${hostname()}:${process.pid}`;
    const rateLimit = options.rateLimit;
    if (rateLimit !== undefined && (rateLimit.groupKey === undefined) !== (rateLimit.groups === undefined)) {
      throw new ConfigError(
        'worker option rateLimit: groupKey and groups go together (groups holds the rule each group gets; queues the queue-wide limit)',
      );
    }
    this.#limiter = rateLimit === undefined ? undefined : new RateLimiter(rateLimit);
    this.#groupConcurrency = groupConcurrency(options);
    const heartbeatMs = positive(options.heartbeatMs, 'heartbeatMs', Math.max(10, Math.floor(this.#leaseMs / 3)));
    this.#stall = new StallDetector({ thresholdMs: Math.min(heartbeatMs, this.#leaseMs / 3) });
    this.#executor = new JobExecutor({
      driver: this.driver,
      registry: this.registry,
      logger: this.#log,
      emit: (event, ...args) => this.#emit(event, ...args),
      leaseMs: this.#leaseMs,
      maxLostDeliveries,
      ack: (reservation, record) => (this.#pipeline as SettlePipeline).ack(reservation, record),
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
      ...(options.serializer === undefined ? {} : { serializer: options.serializer }),
    });
  }

  /** Subscribes to a lifecycle event. */
  on<K extends keyof WorkerEventMap>(event: K, listener: Listener<K>): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Unsubscribes a listener. */
  off<K extends keyof WorkerEventMap>(event: K, listener: Listener<K>): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Jobs finished (completed, retried, dead-lettered or released) so far. */
  get processed(): number {
    return this.#processed;
  }

  /** Jobs taken and not yet finished: running, or done and still being settled with the driver. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** True between run() and the end of shutdown. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Starts the worker; resolves once it has stopped (stop(), a limit, a signal, or an empty queue). */
  run(): Promise<void> {
    if (this.#running !== undefined) return this.#running;
    this.#stopReserving = new AbortController();
    this.#shutdown = new AbortController();
    // Every in-flight job listens to both signals; Node warns past 10 listeners otherwise.
    setMaxListeners(this.concurrency + 10, this.#stopReserving.signal, this.#shutdown.signal);
    this.#stopReason = undefined;
    this.#startedAt = Date.now();
    if (this.#options.handleSignals === true) {
      this.#signalHandler = () => {
        this.#log.info('signal received: draining in-flight jobs');
        void this.stop({ reason: 'signal' });
      };
      process.once('SIGTERM', this.#signalHandler);
      process.once('SIGINT', this.#signalHandler);
    }
    this.#running = this.#run().finally(() => {
      if (this.#signalHandler !== undefined) {
        process.off('SIGTERM', this.#signalHandler);
        process.off('SIGINT', this.#signalHandler);
        this.#signalHandler = undefined;
      }
      this.#running = undefined;
    });
    return this.#running;
  }

  /**
   * Stops reserving, waits up to `graceMs` (default: the worker's shutdownGraceMs) for in-flight jobs,
   * then aborts their signals and hands them back (giveBack: their next run is the same attempt).
   * Resolves when the worker has stopped.
   */
  async stop(options: { graceMs?: number; reason?: StopReason } = {}): Promise<void> {
    this.#requestStop(options.reason ?? 'requested');
    const running = this.#running;
    if (running === undefined) return;
    const graceMs = options.graceMs ?? this.#graceMs;
    const timer = setTimeout(() => this.#shutdown.abort(), graceMs);
    try {
      await running;
    } finally {
      clearTimeout(timer);
    }
  }

  #requestStop(reason: StopReason): void {
    this.#stopReason ??= reason;
    this.#stopReserving.abort();
  }

  async #run(): Promise<void> {
    this.#pipeline = new SettlePipeline({
      driver: this.driver,
      queues: this.queues,
      leaseMs: this.#leaseMs,
      waitMs: this.#waitMs,
      prefetch: this.#prefetch,
      // A rate-limited worker claims through its token check, one job per free slot.
      claims: this.#limiter === undefined,
      holdMs: Math.min(HOLD_MS, this.#leaseMs / 4),
      signal: this.#stopReserving.signal,
      report: (error, during) => this.#emit('error', { error, during }),
      holder: this.#holder,
      ...(this.#groupConcurrency === undefined ? {} : { groupConcurrency: this.#groupConcurrency }),
      stall: this.#stall,
      logger: this.#log,
    });
    this.#stall.start();
    try {
      const slots = Array.from({ length: this.concurrency }, () => this.#slot());
      await Promise.all(slots);
      await Promise.allSettled([...this.#inFlight]);
      await this.#pipeline.close();
    } finally {
      this.#stall.stop();
    }
    this.#emit('stopped', { reason: this.#stopReason ?? 'requested', processed: this.#processed });
  }

  async #slot(): Promise<void> {
    const signal = this.#stopReserving.signal;
    while (!signal.aborted) {
      const limit = this.#limitReached();
      if (limit !== undefined) {
        this.#requestStop(limit);
        break;
      }
      let reservation: Reservation | undefined;
      try {
        if (this.#limiter === undefined) {
          reservation = await (this.#pipeline as SettlePipeline).next();
        } else {
          const queues = await this.#queuesWithTokens(this.#limiter, signal);
          if (queues === undefined || signal.aborted) break;
          reservation = await (this.#pipeline as SettlePipeline).reserve(queues);
        }
      } catch (error) {
        if (signal.aborted) break;
        this.#emit('error', { error: error as Error, during: 'reserve' });
        await sleep(this.#options.errorBackoffMs ?? 1_000, signal);
        continue;
      }
      if (reservation === undefined) {
        if (!this.#idle) {
          this.#idle = true;
          this.#emit('idle');
        }
        if (this.#options.stopWhenEmpty === true && this.#inFlight.size === 0) this.#requestStop('empty');
        continue;
      }
      this.#idle = false;
      this.#taken += 1;
      // The slot is free once the handler is done (`handled`); the settle call goes on in the
      // background, up to maxSettling of them. A rejection of `run` before that surfaces here.
      let handled!: () => void;
      const handlerDone = new Promise<void>((resolve) => {
        handled = resolve;
      });
      let rejected = false;
      let rejection: unknown;
      const run = this.#process(reservation, handled);
      this.#inFlight.add(run);
      run.then(
        () => {
          this.#processed += 1;
          this.#finished(run, handled);
        },
        (error: unknown) => {
          rejected = true;
          rejection = error;
          this.#finished(run, handled);
        },
      );
      await handlerDone;
      if (rejected) throw rejection;
      if (this.#inFlight.has(run)) this.#settling.add(run);
      while (this.#settling.size > this.#maxSettling) {
        await new Promise<void>((resolve) => {
          this.#settleWaiters.push(resolve);
        });
      }
    }
  }

  /** A delivery has settled (or failed to start): frees its settle place and its slot. */
  #finished(run: Promise<unknown>, handled: () => void): void {
    handled();
    this.#inFlight.delete(run);
    if (this.#settling.delete(run) && this.#settleWaiters.length > 0) {
      const waiters = this.#settleWaiters;
      this.#settleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Runs one delivery; resolves once it is settled with the driver. Not async: one promise fewer per job. */
  #process(reservation: Reservation, handled: () => void): Promise<unknown> {
    if (this.#events.listenerCount('reserved') > 0) {
      const availableAt = reservation.envelope?.availableAt;
      this.#emit('reserved', {
        id: reservation.id,
        name: reservation.envelope?.name,
        queue: reservation.queue,
        attempt: reservation.attempt,
        waitMs: availableAt === undefined ? 0 : Math.max(0, Date.now() - availableAt),
        reservation,
      });
    }
    if (this.#limiter !== undefined) return this.#processLimited(reservation, this.#limiter, handled);
    return this.#executor.execute(reservation, this.#shutdown.signal, handled);
  }

  /** Runs one delivery once the rate limits allow it. */
  async #processLimited(reservation: Reservation, limiter: RateLimiter, handled: () => void): Promise<void> {
    if (!(await this.#takeTokens(reservation, limiter))) {
      handled();
      return;
    }
    await this.#executor.execute(reservation, this.#shutdown.signal, handled);
  }

  #limitReached(): StopReason | undefined {
    const o = this.#options;
    if (o.maxJobs !== undefined && this.#taken >= o.maxJobs) return 'max-jobs';
    if (o.maxRuntimeMs !== undefined && Date.now() - this.#startedAt >= o.maxRuntimeMs) return 'max-runtime';
    if (o.maxMemoryMb !== undefined && process.memoryUsage().rss / 1024 / 1024 > o.maxMemoryMb) return 'memory';
    return undefined;
  }

  /**
   * The queues whose bucket has a token, waiting (without reserving, so without spending quota on
   * empty polls) until at least one has. Undefined when stopped while waiting.
   */
  async #queuesWithTokens(limiter: RateLimiter, signal: AbortSignal): Promise<readonly string[] | undefined> {
    for (;;) {
      const { open, retryAfterMs } = await limiter.openQueues(this.queues);
      if (open.length > 0) return open;
      if (!(await sleep(retryAfterMs, signal))) return undefined;
    }
  }

  /**
   * Takes the group's token (when grouped) and the queue's for a reserved job. A job whose group
   * is out of tokens is postponed until its group's next token where the driver can (false: not
   * to be run now), so that one busy group does not hold the worker's slots while other groups
   * wait; otherwise the worker waits for the tokens, renewing the job's lease meanwhile so a long
   * wait is not taken for a dead worker (a lost delivery).
   */
  async #takeTokens(reservation: Reservation, limiter: RateLimiter): Promise<boolean> {
    const group = this.#options.rateLimit?.groupKey?.(reservation);
    const decision = await limiter.tryAcquire(reservation.queue, group);
    if (decision.granted) return true;
    if (decision.limitedBy === 'group' && this.driver.postpone !== undefined) {
      try {
        await this.driver.postpone(reservation, { delayMs: decision.retryAfterMs });
      } catch (error) {
        this.#emit('error', { error: error as Error, during: `postponing job ${reservation.id} until its group has a rate-limit token` });
      }
      return false;
    }
    const { capabilities } = this.driver;
    const renewal =
      capabilities.extend && capabilities.lease !== 'none'
        ? setInterval(() => {
            this.driver.extend(reservation, this.#leaseMs).catch((error: Error) => {
              this.#emit('error', { error, during: `extending the lease of job ${reservation.id} while it waits for a rate-limit token` });
            });
          }, this.#leaseMs / 3)
        : undefined;
    try {
      await limiter.acquire(reservation.queue, group, this.#shutdown.signal, decision);
    } finally {
      clearInterval(renewal);
    }
    return true;
  }

  #emit<K extends keyof WorkerEventMap>(event: K, ...args: WorkerEventMap[K]): void {
    if (event !== 'error' && this.#events.listenerCount(event) === 0) return;
    if (event === 'error' && this.#events.listenerCount('error') === 0) {
      const [{ error, during }] = args as WorkerEventMap['error'];
      this.#log.error(`worker error during ${during}`, { error });
      return;
    }
    try {
      this.#events.emit(event, ...args);
    } catch (error) {
      this.#log.error(`a "${event}" listener threw`, { error });
    }
  }
}
