import type { CoordinationStore } from '../coordination/coordination-store.js';
import type { ErrorInfo, JobEnvelope } from '../envelope/job-envelope.js';
import type { RateLimitStore } from '../rate-limit/rate-limit-store.js';
import type { AckOptions, CancelOutcome, JobInfo, JobListOptions, JobLookupOptions } from './job-info.js';

/**
 * What a driver can do natively, what it emulates, and what it cannot do. Code (the worker, the
 * contract suite, the CLI) branches on these flags, never on the driver's class.
 */
export interface DriverCapabilities {
  /** Delayed delivery: `native` in the backend, `emulated` by the driver, `none` (runs at once). */
  readonly delay: 'native' | 'emulated' | 'none';
  /** Priority ordering across jobs of one queue (lower number first). */
  readonly priority: boolean;
  /** Leases that expire and redeliver: `native`, `emulated`, or `none` (inline execution). */
  readonly lease: 'native' | 'emulated' | 'none';
  /** `extend()` prolongs a held lease. */
  readonly extend: boolean;
  /** `reserve()` blocks up to `waitMs` without busy polling. */
  readonly blockingReserve: boolean;
  /** Dead letters kept in the backend's own facility (`native`) or a table/key (`store`). */
  readonly deadLetter: 'native' | 'store';
  /** `push()` with many envelopes costs one round trip (or a few), not one per envelope. */
  readonly bulkPush: boolean;
  /** `push(…, { transaction })` enqueues inside the application's own transaction. */
  readonly transactionalPush: boolean;
  /**
   * Unique keys are enforced within a queue: a push whose `uniqueKey`, or whose id, is held by a
   * live job of the same queue is skipped (listed in `skipped`, never an error).
   */
  readonly uniqueKeys: boolean;
  /** Jobs run inside `push()` itself (the sync driver); reserve() never returns work. */
  readonly inline: boolean;
  /** `release()` stores the updated envelope it is given (failure history for the next delivery). */
  readonly rewriteOnRelease: boolean;
  /**
   * The batch members are present: `claim()` (up to n jobs in one call), `ackAndClaim()` (settle
   * a group and claim the next n in one round trip) and `extendMany()` (one renewal call for many
   * leases). The Worker uses them when present and falls back to one job per call otherwise.
   */
  readonly batch: boolean;
  /** Largest encoded envelope the backend accepts, in bytes; undefined when only memory bounds it. */
  readonly maxMessageBytes?: number;
  /**
   * `getJob()` and `listJobs()` find waiting, delayed and active jobs by id and by state (and the
   * finished ones the driver keeps, with `retention`).
   */
  readonly lookup: boolean;
  /**
   * Completed jobs are kept (the finished-job record `ack()` is given, with the handler's result),
   * bounded per queue by count and age and pruned by the backend as it stores new ones.
   */
  readonly retention: boolean;
  /** `setProgress()` stores a running job's progress, visible to lookups. */
  readonly progress: boolean;
  /** `cancel()` ends one waiting, delayed or active job by id. */
  readonly cancel: boolean;
  /** `pause()` / `resume()` stop and restart claims from a queue for every worker of the backend. */
  readonly pause: boolean;
  /**
   * Claims honour `groupConcurrency` (see {@link ReserveOptions.groupConcurrency}): turns between
   * the groups of a queue, and at most that many leased jobs of one group across every worker.
   */
  readonly groups: boolean;
}

/** Options of {@link QueueDriver.push}. */
export interface PushOptions {
  /**
   * A driver-specific transaction handle (e.g. a pg client inside BEGIN) to enqueue through, so
   * that a rollback enqueues nothing. Drivers without `transactionalPush` reject it with an
   * UnsupportedError naming the driver (see `refuseTransaction`), storing nothing.
   */
  readonly transaction?: unknown;
}

/** Outcome of a push. */
export interface PushResult {
  /** Ids of the envelopes stored. */
  readonly pushed: readonly string[];
  /**
   * Ids skipped because another live job (queued, delayed or reserved) of the same queue held
   * their `uniqueKey` or their id: on drivers with `capabilities.uniqueKeys` a duplicate id is
   * skipped, never an error.
   */
  readonly skipped: readonly string[];
}

/** Options of {@link QueueDriver.reserve}. */
export interface ReserveOptions {
  /** How long the reservation is held before the job becomes available again, in ms. */
  readonly leaseMs: number;
  /** How long to wait for a job when none is ready, in ms; 0 returns at once. */
  readonly waitMs: number;
  /** Aborting it ends a waiting reserve early with `undefined`. */
  readonly signal?: AbortSignal;
  /** Who claims (host, pid, worker), kept with the lease where the driver can (`JobInfo.lease.holder`). */
  readonly holder?: string;
  /**
   * Claim group by group (drivers with `capabilities.groups`; the Worker refuses its `groups` option
   * for the others): the claim takes
   * turns between the groups of each queue (`JobEnvelope.group`; the ungrouped jobs are one more
   * turn), least recently served first, priority then FIFO within a group; and it leases a job of a
   * group only while fewer than this many jobs of that group hold an unexpired lease, across every
   * worker of the backend (>= 1). Absent: the claim ignores groups (priority then FIFO). Every
   * worker of a queue with groups should claim with the same value.
   */
  readonly groupConcurrency?: number;
}

/** Options of {@link QueueDriver.claim}. */
export interface ClaimOptions extends ReserveOptions {
  /** Claim at most this many jobs (>= 1); fewer when fewer are ready. */
  readonly max: number;
}

/** Options of {@link QueueDriver.ackAndClaim}. */
export interface AckAndClaimOptions {
  /** Lease of the claimed jobs, in ms. */
  readonly leaseMs: number;
  /** Claim at most this many jobs (0 = only acknowledge). */
  readonly max: number;
  /** Who claims, as in {@link ReserveOptions.holder}. */
  readonly holder?: string;
  /** Claim group by group, as in {@link ReserveOptions.groupConcurrency}. */
  readonly groupConcurrency?: number;
  /**
   * Per acknowledgement, in the order of `acks`: the finished-job record to keep (see
   * {@link AckOptions.record}); absent, or an entry undefined, when none is kept.
   */
  readonly records?: readonly (string | undefined)[];
}

/** What {@link QueueDriver.ackAndClaim} did. */
export interface AckAndClaimResult {
  /** The acknowledgements that changed nothing because their lease was lost (the rest are done). */
  readonly leaseLost: readonly Reservation[];
  /** Jobs claimed in the same round trip, in claim order (priority, then FIFO). */
  readonly claimed: readonly Reservation[];
}

/**
 * A leased delivery of one job. Two counts travel with it, and they are kept apart: `attempt`
 * counts runs whose handler failed, and `lostDeliveries` counts claims whose worker died holding
 * them. A job handed back unrun (`giveBack`) changes neither.
 */
export interface Reservation {
  /** Fencing token: settling with it succeeds only while this delivery holds the lease. */
  readonly token: string;
  /** The job id (also present on envelope when it decoded). */
  readonly id: string;
  /** The queue it was reserved from. */
  readonly queue: string;
  /**
   * The number of this run: runs that failed before it (settled with `release()`) plus one (>= 1).
   * A delivery lost with its worker, or given back unrun, does not count.
   */
  readonly attempt: number;
  /**
   * Earlier deliveries of this job whose lease ran out with no settle (their worker died or hung),
   * counted atomically with the claim that took the job over (>= 0).
   */
  readonly lostDeliveries: number;
  /** Epoch ms (backend clock where it has one) when the lease runs out. */
  readonly leaseExpiresAt: number;
  /** The decoded envelope; absent exactly when `poison` is set. */
  readonly envelope?: JobEnvelope;
  /** A body that could not be decoded: the raw text and the decode error. */
  readonly poison?: { readonly raw: string; readonly error: Error };
}

/** Options of {@link QueueDriver.release}. */
export interface ReleaseOptions {
  /** Delay before the job is available again, in ms (0 = at once). */
  readonly delayMs: number;
  /** Envelope to store for the next delivery (drivers with `rewriteOnRelease`; others ignore it). */
  readonly envelope?: JobEnvelope;
}

/** Options of {@link QueueDriver.postpone}. */
export interface PostponeOptions {
  /** Delay before the job is available again, in ms (0 = at once). */
  readonly delayMs: number;
}

/** Why a job was dead-lettered. */
export type DeadLetterReason =
  /** The handler failed on its last allowed attempt, or threw UnrecoverableError. */
  | 'failed'
  /** The stored body could not be decoded. */
  | 'poison'
  /** No handler is registered for the job name. */
  | 'unknown-job'
  /** Claimed with its lost-delivery count past the worker's limit (earlier deliveries died with their worker). */
  | 'max-deliveries'
  /** The handler ran past its timeout on its last allowed attempt. */
  | 'timeout'
  /** The payload failed its job definition's schema at run time (never retried: it will not get better). */
  | 'invalid-payload';

/** What {@link QueueDriver.deadLetter} records. Times are epoch ms. */
export interface JobFailure {
  readonly reason: DeadLetterReason;
  readonly error: ErrorInfo;
  /** Runs whose handler failed, timed out or threw UnrecoverableError, including the last (0 for poison, unknown or lost jobs never run to a failure). */
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly failedAt: number;
}

/** A dead-lettered job as the store returns it. */
export interface DeadLetterEntry {
  readonly id: string;
  readonly queue: string;
  /** Job name, or `undefined` for a poison body. */
  readonly name: string | undefined;
  /** The envelope, or `undefined` for a poison body (see `raw`). */
  readonly envelope: JobEnvelope | undefined;
  /** The undecodable body of a poison message. */
  readonly raw?: string;
  readonly reason: DeadLetterReason;
  readonly error: ErrorInfo;
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly failedAt: number;
}

/** Filters for listing and bulk operations on dead letters. */
export interface DeadLetterFilter {
  /** Only entries of this queue. */
  readonly queue?: string;
  /** Only entries whose last failure is older than this epoch ms. */
  readonly failedBefore?: number;
}

/** Paging for {@link DeadLetterStore.list}. */
export interface DeadLetterListOptions extends DeadLetterFilter {
  /** At most this many entries; default 100. */
  readonly limit?: number;
  /** Skip this many entries first; default 0. */
  readonly offset?: number;
}

/** The dead-letter store of a driver. */
export interface DeadLetterStore {
  /** Entries, most recently failed first. */
  list(options?: DeadLetterListOptions): Promise<DeadLetterEntry[]>;
  /** One entry by job id; `undefined` when there is none. */
  get(id: string): Promise<DeadLetterEntry | undefined>;
  /**
   * Moves an entry back to its queue as a fresh delivery (count reset, available now); returns
   * false when there is no such entry. Poison bodies cannot be retried and throw.
   */
  retry(id: string): Promise<boolean>;
  /** Retries every entry matching the filter (poison bodies excepted); returns how many. */
  retryAll(filter?: DeadLetterFilter): Promise<number>;
  /** Deletes entries matching the filter; returns how many. */
  purge(filter?: DeadLetterFilter): Promise<number>;
  /**
   * Deletes the entries with these ids (poison bodies included); returns how many it deleted. An id
   * with no entry is passed over, not an error. Check the argument with core's `deadLetterIds()`.
   */
  purgeIds(ids: readonly string[]): Promise<number>;
  /** How many entries match the filter. */
  count(filter?: DeadLetterFilter): Promise<number>;
}

/** What {@link QueueDriver.migrate} did. */
export interface SchemaMigrationResult {
  /** Schema version found before migrating (0 for an empty database). */
  readonly from: number;
  /** Schema version after migrating. */
  readonly to: number;
  /** Versions applied by this call, in order; empty when the schema was already current. */
  readonly applied: readonly number[];
}

/** Counts of one queue. */
export interface QueueStats {
  readonly queue: string;
  /** Available now. */
  readonly ready: number;
  /** Waiting for their `availableAt`. */
  readonly delayed: number;
  /** Leased by a worker (including leases that ran out but were not reclaimed yet). */
  readonly reserved: number;
  /** In the dead-letter store for this queue. */
  readonly dead: number;
  /** Epoch ms at which the oldest ready job became available; undefined when none is ready. */
  readonly oldestReadyAt: number | undefined;
  /** Claims from the queue are paused (drivers with `capabilities.pause`; absent otherwise). */
  readonly paused?: boolean;
  /** Completed jobs kept (drivers with `capabilities.retention`; absent otherwise). */
  readonly completed?: number;
}

/**
 * The contract every backend implements. At-least-once delivery: a reserved job is leased; a lease
 * that runs out makes the job available again; no job is handed to two workers while its lease
 * holds. The driver owns its connection. Every method after `close()` throws DriverClosedError.
 */
export interface QueueDriver {
  /** Short backend name used in errors and metrics (`redis`, `postgres`, `sqlite`, …). */
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  /**
   * Stores envelopes (ready, or delayed until `availableAt`). All or nothing where the backend
   * allows. With `capabilities.uniqueKeys`, an envelope whose id or unique key a live job of its
   * queue holds is skipped (listed in `skipped`), not an error. Throws PayloadTooLargeError above `capabilities.maxMessageBytes`.
   */
  push(envelopes: readonly JobEnvelope[], options?: PushOptions): Promise<PushResult>;
  /**
   * Claims the next ready job from the first non-empty queue in `queues` (priority order, then
   * FIFO), counting the delivery atomically with the claim. Expired leases are reclaimable.
   * Resolves `undefined` when nothing arrived within `waitMs` or the signal aborted.
   */
  reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined>;
  /**
   * Settles a completed job: deleted, or kept as `options.record` where the driver has retention
   * (pruning the queue's finished jobs past its bounds in the same step). A no-op when it is
   * already gone; LeaseLostError when another holds it.
   */
  ack(reservation: Reservation, options?: AckOptions): Promise<void>;
  /**
   * Settles a failed run: the job is available again after `delayMs` and its attempt is counted
   * (the next delivery's `attempt` is one higher). LeaseLostError when the lease was lost.
   */
  release(reservation: Reservation, options: ReleaseOptions): Promise<void>;
  /**
   * Hands back deliveries that were not run (claimed ahead and not needed, unfinished at shutdown,
   * held back by a rate limit): each job is available at once with neither count changed, as if
   * never claimed. A reservation whose lease was already lost is left alone (no error). Resolves
   * how many were given back.
   */
  giveBack(reservations: readonly Reservation[]): Promise<number>;
  /**
   * Prolongs the lease to `leaseMs` from now; returns the new expiry (epoch ms). LeaseLostError when
   * lost; JobCancelledError when the job was cancelled while it ran (drivers with `cancel`).
   */
  extend(reservation: Reservation, leaseMs: number): Promise<number>;
  /** Moves the job into the dead-letter store with `failure`; LeaseLostError when the lease was lost. */
  deadLetter(reservation: Reservation, failure: JobFailure): Promise<void>;
  readonly deadLetters: DeadLetterStore;
  /** Counts of one queue. */
  stats(queue: string): Promise<QueueStats>;
  /** One round trip to the backend; resolves its duration in ms, or throws DriverConnectionError. */
  ping(): Promise<number>;
  /** Deletes every ready and delayed job of `queue` (not reserved ones, not dead letters); returns how many. */
  purge(queue: string): Promise<number>;
  /** Lets in-flight calls finish, refuses new ones, releases what the driver created. Idempotent. */
  close(): Promise<void>;
  /**
   * Batch member (`capabilities.batch`): claims up to `options.max` jobs as `reserve()` claims one,
   * waiting up to `waitMs` for the first. Resolves an empty array when nothing arrived.
   */
  claim?(queues: readonly string[], options: ClaimOptions): Promise<Reservation[]>;
  /**
   * Batch member (`capabilities.batch`): acknowledges `acks` and claims up to `options.max` next
   * jobs of `queues` in one round trip (where the backend allows; a driver may claim fewer). An
   * ack whose lease was lost changes nothing and is listed in `leaseLost`; the others are done
   * even then. Never waits for work.
   */
  ackAndClaim?(acks: readonly Reservation[], queues: readonly string[], options: AckAndClaimOptions): Promise<AckAndClaimResult>;
  /**
   * Batch member (`capabilities.batch`): prolongs many leases to `leaseMs` from now in one call;
   * resolves, per reservation in order, the new expiry (epoch ms), `undefined` where the lease
   * was lost, or `'cancelled'` where the job was cancelled while it ran.
   */
  extendMany?(reservations: readonly Reservation[], leaseMs: number): Promise<(number | 'cancelled' | undefined)[]>;
  /**
   * Lookup member (`capabilities.lookup`): the job with this id in any state the driver keeps
   * (failed jobs are the dead-letter store's: see core's `lookupJob`), or `undefined`.
   */
  getJob?(id: string, options?: JobLookupOptions): Promise<JobInfo | undefined>;
  /**
   * Lookup member (`capabilities.lookup`): jobs of one queue in one state, in the order they will
   * run (waiting, delayed, active) or most recently finished first (completed, cancelled).
   */
  listJobs?(options: JobListOptions): Promise<JobInfo[]>;
  /**
   * Progress member (`capabilities.progress`): stores `progress` (JSON text, made by core) with the
   * held job; LeaseLostError when the lease was lost.
   */
  setProgress?(reservation: Reservation, progress: string): Promise<void>;
  /**
   * Cancel member (`capabilities.cancel`): ends a waiting, delayed or active job for good, keeping it
   * as `cancelled` (its record kept even when completed jobs are not); an active job's next lease
   * renewal then fails with JobCancelledError, and its settle calls change nothing.
   */
  cancel?(id: string, options?: JobLookupOptions): Promise<CancelOutcome>;
  /** Pause member (`capabilities.pause`): no claim takes jobs from `queue` until `resume()`; pushes still store. Idempotent. */
  pause?(queue: string): Promise<void>;
  /** Pause member (`capabilities.pause`): claims take jobs from `queue` again, waking waiting reserves. Idempotent. */
  resume?(queue: string): Promise<void>;
  /**
   * Optional: a rate-limit store whose buckets live in this driver's backend, shared by every
   * worker process on it. Undefined for drivers that keep none (then limits hold per process).
   */
  createRateLimitStore?(): RateLimitStore;
  /**
   * Optional: a coordination store (counters and leased keys with expiry) in this driver's
   * backend, shared by every worker process on it; job middleware such as `withoutOverlapping`
   * and `throttleExceptions` keep their state there. Undefined for drivers that keep none.
   */
  createCoordinationStore?(): CoordinationStore;
  /**
   * Optional: hands back a delivery unrun, due again after `options.delayMs`, with neither count
   * changed (not an attempt, not a lost delivery): what a rate-limited or circuit-broken job
   * needs. LeaseLostError when the lease was lost. Undefined for drivers that cannot delay a
   * held job without counting it.
   */
  postpone?(reservation: Reservation, options: PostponeOptions): Promise<void>;
  /**
   * Optional: drivers that keep a schema (the database drivers) bring it to the newest version.
   * Idempotent; run by `queue migrate`. Undefined for drivers with nothing to migrate.
   */
  migrate?(): Promise<SchemaMigrationResult>;
  /**
   * Optional: the worker runs each delivery — handler, follow-up dispatch and settling — inside
   * `run`, so context set here (an active span of a decorator) covers all of it. A driver may
   * reject with LeaseLostError, without calling `run`, a delivery it knows was lost before it
   * started (beanstalk: the connection that reserved the job closed); the worker then counts it
   * `lease-lost` and runs nothing.
   */
  aroundExecution?<T>(reservation: Reservation, run: () => Promise<T>): Promise<T>;
}
