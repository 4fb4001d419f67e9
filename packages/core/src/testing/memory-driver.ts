import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CoordinationStore } from '../coordination/coordination-store.js';
import { jobListPaging } from '../driver/dead-letter-paging.js';
import { BASELINE_CAPABILITIES, isValidQueueName } from '../driver/default-capabilities.js';
import { checkGroupConcurrency } from '../driver/group-concurrency.js';
import type { AckOptions, CancelOutcome, JobInfo, JobListOptions, JobLookupOptions } from '../driver/job-info.js';
import { cancelledJob, finishedJobInfo, liveJobInfo } from '../driver/job-info-from.js';
import type {
  AckAndClaimOptions,
  AckAndClaimResult,
  ClaimOptions,
  DeadLetterStore,
  DriverCapabilities,
  JobFailure,
  PostponeOptions,
  PushOptions,
  PushResult,
  QueueDriver,
  QueueStats,
  ReleaseOptions,
  Reservation,
  ReserveOptions,
} from '../driver/queue-driver.js';
import { refuseTransaction } from '../driver/refuse-transaction.js';
import { type Retention, type RetentionOptions, resolveRetention } from '../driver/retention.js';
import { decodeFinishedJob } from '../envelope/finished-job.js';
import { encodeEnvelope, fromBackend, type JobEnvelope } from '../envelope/job-envelope.js';
import { DriverClosedError } from '../errors/driver-closed-error.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { JobCancelledError } from '../errors/job-cancelled-error.js';
import { LeaseLostError } from '../errors/lease-lost-error.js';
import { PayloadTooLargeError } from '../errors/payload-too-large-error.js';
import { quoteInput } from '../errors/quote-input.js';
import type { RateLimitStore } from '../rate-limit/rate-limit-store.js';
import { MemoryDeadLetterStore } from './memory-dead-letter-store.js';
import { MemoryStore, type StoredJob } from './memory-store.js';

/** Options of {@link createMemoryDriver}. */
export interface MemoryDriverOptions {
  /**
   * State to share with other memory drivers of this process (two "workers" on one queue).
   * Defaults to a store of the driver's own.
   */
  readonly store?: MemoryStore;
  /** Clock for due times and lease expiry, epoch ms; only used when no `store` is given (a store brings its clock). */
  readonly now?: () => number;
  /** Largest encoded envelope accepted by `push()`, in bytes; unbounded when absent. */
  readonly maxMessageBytes?: number;
  /**
   * Declare the batch members (`claim`, `ackAndClaim`, `extendMany`); default true. False makes a
   * driver that callers must serve one job per call, as a backend without them would.
   */
  readonly batch?: boolean;
  /** Finished jobs kept per queue (default: the last 1,000, for a day); `false` keeps no completed ones. */
  readonly retention?: RetentionOptions;
}

/** Options of {@link MemoryDriver.pushRaw}. */
export interface PushRawOptions {
  /** Job id to store the body under; a random UUID when absent. */
  readonly id?: string;
  /** Lower is delivered first; default 20. */
  readonly priority?: number;
  /** Epoch ms (driver clock) before which it is not delivered; default now. */
  readonly availableAt?: number;
}

const NAME = 'memory';
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The in-process reference implementation of {@link QueueDriver}: every member of the contract,
 * including leases with fencing tokens, delays, priorities, unique keys, a dead-letter store and
 * blocking reserve. For tests and single-process scripts; state lives in a {@link MemoryStore}
 * and is lost with the process.
 */
export class MemoryDriver implements QueueDriver {
  /** Always `memory`. */
  readonly name = NAME;
  /** What this driver does: everything, emulated in memory; no transactional push. */
  readonly capabilities: DriverCapabilities;
  /** The dead letters of the shared store. */
  readonly deadLetters: DeadLetterStore;
  /** The state this driver reads and writes (possibly shared with other drivers). */
  readonly store: MemoryStore;
  private closed = false;
  private readonly waiting = new Set<() => void>();
  private readonly retention: Retention;

  constructor(options: MemoryDriverOptions = {}) {
    if (options.maxMessageBytes !== undefined && (!Number.isInteger(options.maxMessageBytes) || options.maxMessageBytes < 1)) {
      throw new InvalidArgumentError(`memory: maxMessageBytes: expected an integer >= 1, got ${options.maxMessageBytes}`);
    }
    this.store = options.store ?? new MemoryStore(options.now === undefined ? {} : { now: options.now });
    this.retention = resolveRetention(NAME, options.retention);
    this.capabilities = Object.freeze({
      ...BASELINE_CAPABILITIES,
      blockingReserve: true,
      bulkPush: true,
      uniqueKeys: true,
      rewriteOnRelease: true,
      batch: options.batch !== false,
      lookup: true,
      retention: this.retention.completed,
      progress: true,
      cancel: true,
      pause: true,
      groups: true,
      ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
    });
    this.deadLetters = new MemoryDeadLetterStore(this.store, () => this.assertOpen());
  }

  /** Stores envelopes all or nothing; skips those whose id or unique key is held. */
  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    this.assertOpen();
    refuseTransaction(this.name, options);
    const bodies = envelopes.map((envelope) => this.encode(envelope));
    const pushed: string[] = [];
    const skipped: string[] = [];
    envelopes.forEach((envelope, index) => {
      // A duplicate id is skipped like a held unique key, as every backend does.
      const held =
        this.store.has(envelope.id) || (envelope.uniqueKey !== undefined && this.store.isUniqueKeyHeld(envelope.queue, envelope.uniqueKey));
      if (held) {
        skipped.push(envelope.id);
        return;
      }
      this.store.insert(
        this.newJob(
          envelope.id,
          envelope.queue,
          bodies[index]!,
          envelope.priority,
          envelope.availableAt,
          envelope.uniqueKey,
          envelope.group,
        ),
      );
      pushed.push(envelope.id);
    });
    return { pushed, skipped };
  }

  /**
   * Stores a body as it is, without encoding or validating it, so that tests can watch an
   * undecodable message come back as a poison reservation. Returns the job id.
   */
  async pushRaw(queue: string, raw: string, options: PushRawOptions = {}): Promise<string> {
    this.assertOpen();
    assertQueueName(queue);
    const id = options.id ?? randomUUID();
    if (this.store.has(id)) throw new InvalidArgumentError(`memory: job id ${id} is already queued`);
    this.store.insert(this.newJob(id, queue, raw, options.priority ?? 20, options.availableAt ?? this.store.now(), undefined));
    return id;
  }

  /** Claims the next job of the first non-empty queue, waiting up to `waitMs` for one. */
  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    return (await this.claim(queues, { ...options, max: 1 }))[0];
  }

  /** Claims up to `options.max` jobs, waiting up to `waitMs` for the first. */
  async claim(queues: readonly string[], options: ClaimOptions): Promise<Reservation[]> {
    this.assertOpen();
    if (queues.length === 0) throw new InvalidArgumentError('memory: reserve() needs at least one queue');
    for (const queue of queues) assertQueueName(queue);
    assertPositive('leaseMs', options.leaseMs);
    if (!Number.isInteger(options.max) || options.max < 1)
      throw new InvalidArgumentError(`memory: max: expected an integer >= 1, got ${options.max}`);
    if (!Number.isFinite(options.waitMs) || options.waitMs < 0)
      throw new InvalidArgumentError(`memory: waitMs: expected a number >= 0, got ${options.waitMs}`);
    const { leaseMs, waitMs, signal, max, holder } = options;
    const groups = checkGroupConcurrency(NAME, options.groupConcurrency);
    if (signal?.aborted) return [];
    const claimed = this.claimNow(queues, leaseMs, max, holder, groups);
    if (claimed.length > 0 || waitMs === 0) return claimed;
    return new Promise((resolve) => {
      const deadline = performance.now() + waitMs;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (reservations: Reservation[]): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        this.waiting.delete(onAbort);
        resolve(reservations);
      };
      const onAbort = (): void => finish([]);
      const attempt = (): void => {
        if (done) return;
        if (this.closed) {
          finish([]);
          return;
        }
        const reservations = this.claimNow(queues, leaseMs, max, holder, groups);
        if (reservations.length > 0) {
          finish(reservations);
          return;
        }
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          finish([]);
          return;
        }
        // Sleep until the deadline or until a delayed job comes due / a lease runs out, whichever is first.
        const changeAt = this.store.nextChangeAt(queues);
        const untilChange = changeAt === undefined ? remaining : Math.max(1, changeAt - this.store.now());
        clearTimeout(timer);
        // setTimeout fires at once above 2^31-1 ms, so longer waits go in steps.
        timer = setTimeout(attempt, Math.min(remaining, untilChange, MAX_TIMER_MS));
      };
      const unsubscribe = this.store.subscribe(attempt);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.add(onAbort);
      attempt();
    });
  }

  /** Deletes the job; a no-op when it is gone; LeaseLostError when another delivery holds it. */
  async ack(reservation: Reservation, options: AckOptions = {}): Promise<void> {
    this.assertOpen();
    const job = this.store.find(reservation.queue, reservation.id);
    if (job === undefined) return;
    this.assertHeld(job, reservation, 'ack');
    this.complete(job, options.record);
  }

  /** Acknowledges `acks` (lost leases reported, not thrown) and claims up to `options.max` jobs. */
  async ackAndClaim(acks: readonly Reservation[], queues: readonly string[], options: AckAndClaimOptions): Promise<AckAndClaimResult> {
    this.assertOpen();
    for (const queue of queues) assertQueueName(queue);
    const groups = checkGroupConcurrency(NAME, options.groupConcurrency);
    const leaseLost: Reservation[] = [];
    acks.forEach((reservation, index) => {
      const job = this.store.find(reservation.queue, reservation.id);
      if (job === undefined) return;
      if (job.token !== reservation.token) leaseLost.push(reservation);
      else this.complete(job, options.records?.[index]);
    });
    const claimed = options.max > 0 ? this.claimNow(queues, options.leaseMs, options.max, options.holder, groups) : [];
    return { leaseLost, claimed };
  }

  /** Hands back unrun deliveries: free again at their old place, neither count changed. */
  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    this.assertOpen();
    let given = 0;
    for (const reservation of reservations) {
      const job = this.store.find(reservation.queue, reservation.id);
      if (job === undefined || job.token !== reservation.token) continue;
      job.token = undefined;
      job.leaseExpiresAt = 0;
      given += 1;
    }
    if (given > 0) this.store.notify();
    return given;
  }

  /** Prolongs many leases; undefined for each one that was lost. */
  async extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | 'cancelled' | undefined)[]> {
    this.assertOpen();
    assertPositive('leaseMs', leaseMs);
    return reservations.map((reservation) => {
      const job = this.store.find(reservation.queue, reservation.id);
      if (job === undefined) return this.wasCancelled(reservation) ? 'cancelled' : undefined;
      if (job.token !== reservation.token) return undefined;
      job.leaseExpiresAt = this.store.now() + leaseMs;
      return job.leaseExpiresAt;
    });
  }

  /** A failed run: available again after `delayMs` with its attempt counted, storing `options.envelope` when given. */
  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    this.assertOpen();
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0)
      throw new InvalidArgumentError(`memory: delayMs: expected a number >= 0, got ${options.delayMs}`);
    const body = options.envelope === undefined ? undefined : this.encode(options.envelope);
    const job = this.held(reservation, 'release');
    if (options.envelope !== undefined && body !== undefined) {
      job.body = body;
      job.priority = options.envelope.priority;
    }
    job.token = undefined;
    job.leaseExpiresAt = 0;
    job.attempts += 1;
    job.availableAt = this.store.now() + options.delayMs;
    job.seq = this.store.nextSeq();
    this.store.notify();
  }

  /** Hands back an unrun delivery due after `delayMs`, neither count changed. */
  async postpone(reservation: Reservation, options: PostponeOptions): Promise<void> {
    this.assertOpen();
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0)
      throw new InvalidArgumentError(`memory: delayMs: expected a number >= 0, got ${options.delayMs}`);
    const job = this.held(reservation, 'postpone');
    job.token = undefined;
    job.leaseExpiresAt = 0;
    job.availableAt = this.store.now() + options.delayMs;
    job.seq = this.store.nextSeq();
    this.store.notify();
  }

  /** The store's coordination store, shared by every driver over the same {@link MemoryStore}. */
  createCoordinationStore(): CoordinationStore {
    return this.store.coordination;
  }

  /** The store's token buckets, shared by every driver over the same {@link MemoryStore}. */
  createRateLimitStore(): RateLimitStore {
    return this.store.rateLimits;
  }

  /** Prolongs the lease to `leaseMs` from now; returns the new expiry (epoch ms). */
  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    this.assertOpen();
    assertPositive('leaseMs', leaseMs);
    const job = this.held(reservation, 'extend');
    job.leaseExpiresAt = this.store.now() + leaseMs;
    return job.leaseExpiresAt;
  }

  /** Moves the job into the dead-letter store with `failure`. */
  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    this.assertOpen();
    const job = this.held(reservation, 'deadLetter');
    let envelope: JobEnvelope | undefined;
    try {
      envelope = fromBackend(job.body);
    } catch {
      envelope = undefined;
    }
    this.store.remove(job);
    this.store.putDeadLetter({
      id: job.id,
      queue: job.queue,
      name: envelope?.name,
      envelope,
      ...(envelope === undefined ? { raw: job.body } : {}),
      reason: failure.reason,
      error: failure.error,
      attempts: failure.attempts,
      firstFailedAt: failure.firstFailedAt,
      failedAt: failure.failedAt,
    });
  }

  /** Counts of one queue; an expired lease not yet reclaimed still counts as reserved. */
  async stats(queue: string): Promise<QueueStats> {
    this.assertOpen();
    assertQueueName(queue);
    const now = this.store.now();
    let ready = 0;
    let delayed = 0;
    let reserved = 0;
    let oldestReadyAt: number | undefined;
    for (const job of this.store.jobsOf(queue)) {
      if (job.token !== undefined) reserved += 1;
      else if (job.availableAt > now) delayed += 1;
      else {
        ready += 1;
        if (oldestReadyAt === undefined || job.availableAt < oldestReadyAt) oldestReadyAt = job.availableAt;
      }
    }
    const dead = this.store.deadLetters({ queue }).length;
    let completed = 0;
    for (const record of this.store.finishedIn(queue)) if (record.state === 'completed') completed += 1;
    return {
      queue,
      ready,
      delayed,
      reserved,
      dead,
      oldestReadyAt,
      paused: this.store.isPaused(queue),
      ...(this.capabilities.retention ? { completed } : {}),
    };
  }

  /** Resolves at once with the time taken (there is no backend to reach). */
  async ping(): Promise<number> {
    this.assertOpen();
    const started = performance.now();
    await Promise.resolve();
    return performance.now() - started;
  }

  /** Deletes every ready and delayed job of `queue`; returns how many. */
  async purge(queue: string): Promise<number> {
    this.assertOpen();
    assertQueueName(queue);
    let purged = 0;
    for (const job of [...this.store.jobsOf(queue)]) {
      if (job.token !== undefined) continue;
      this.store.remove(job);
      purged += 1;
    }
    return purged;
  }

  /** Ends waiting reserves of this driver with `undefined` and refuses further calls. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const end of [...this.waiting]) end();
  }

  /** The job with this id in any state this driver keeps but `failed` (the dead-letter store's). */
  async getJob(id: string, options: JobLookupOptions = {}): Promise<JobInfo | undefined> {
    this.assertOpen();
    if (options.queue !== undefined) assertQueueName(options.queue);
    const job = this.findLive(id, options.queue);
    if (job !== undefined) return this.infoOf(job);
    const record = this.store.getFinished(id, options.queue);
    return record === undefined ? undefined : finishedJobInfo(record);
  }

  /** Jobs of one queue in one state: in run order, or most recently finished first. */
  async listJobs(options: JobListOptions): Promise<JobInfo[]> {
    this.assertOpen();
    const { queue, state, limit, offset } = jobListPaging(NAME, options);
    if (state === 'completed' || state === 'cancelled') {
      return [...this.store.finishedIn(queue)]
        .filter((record) => record.state === state)
        .reverse()
        .slice(offset, offset + limit)
        .map(finishedJobInfo);
    }
    const infos = [...this.store.jobsOf(queue)].map((job) => this.infoOf(job)).filter((info) => info.state === state);
    const order = (info: JobInfo): number[] => {
      const job = this.store.find(queue, info.id) as StoredJob;
      if (state === 'active') return [job.leaseExpiresAt, job.seq];
      if (state === 'delayed') return [job.availableAt, job.seq];
      return [job.priority, job.seq];
    };
    return infos
      .map((info) => ({ info, key: order(info) }))
      .sort((a, b) => (a.key[0] as number) - (b.key[0] as number) || (a.key[1] as number) - (b.key[1] as number))
      .slice(offset, offset + limit)
      .map(({ info }) => info);
  }

  /** Stores the held job's progress (JSON text). */
  async setProgress(reservation: Reservation, progress: string): Promise<void> {
    this.assertOpen();
    this.held(reservation, 'setProgress').progress = progress;
  }

  /** Ends a waiting, delayed or active job for good, keeping it as cancelled. */
  async cancel(id: string, options: JobLookupOptions = {}): Promise<CancelOutcome> {
    this.assertOpen();
    if (options.queue !== undefined) assertQueueName(options.queue);
    const job = this.findLive(id, options.queue);
    if (job === undefined) return this.store.getFinished(id, options.queue) === undefined ? 'not-found' : 'finished';
    const info = this.infoOf(job);
    this.store.remove(job);
    this.store.putFinished(cancelledJob(info, this.store.now()), this.retention);
    return 'cancelled';
  }

  /** Claims skip `queue` until resume(). */
  async pause(queue: string): Promise<void> {
    this.assertOpen();
    assertQueueName(queue);
    this.store.setPaused(queue, true);
  }

  /** Claims take from `queue` again. */
  async resume(queue: string): Promise<void> {
    this.assertOpen();
    assertQueueName(queue);
    this.store.setPaused(queue, false);
  }

  /** Removes a completed job, keeping its finished record where retention keeps completed jobs. */
  private complete(job: StoredJob, record: string | undefined): void {
    this.store.remove(job);
    if (record !== undefined && this.retention.completed) this.store.putFinished(decodeFinishedJob(record), this.retention);
  }

  private findLive(id: string, queue: string | undefined): StoredJob | undefined {
    if (queue !== undefined) return this.store.find(queue, id);
    return this.store.findAnywhere(id);
  }

  private infoOf(job: StoredJob): JobInfo {
    const now = this.store.now();
    const state = job.token !== undefined ? 'active' : job.availableAt > now ? 'delayed' : 'waiting';
    return liveJobInfo({
      id: job.id,
      queue: job.queue,
      state,
      body: job.body,
      attempts: job.attempts,
      availableAt: job.availableAt,
      ...(job.progress === undefined ? {} : { progress: job.progress }),
      ...(state === 'active' ? { lease: { holder: job.holder, expiresAt: job.leaseExpiresAt } } : {}),
      ...(state === 'active' && job.claimedAt !== undefined ? { startedAt: job.claimedAt } : {}),
    });
  }

  /** True when the job of `reservation` is gone because it was cancelled. */
  private wasCancelled(reservation: Reservation): boolean {
    return this.store.getFinished(reservation.id, reservation.queue)?.state === 'cancelled';
  }

  private claimNow(
    queues: readonly string[],
    leaseMs: number,
    max: number,
    holder: string | undefined,
    groupConcurrency: number | undefined,
  ): Reservation[] {
    const claimed: Reservation[] = [];
    while (claimed.length < max) {
      const reservation = this.claimOne(queues, leaseMs, holder, groupConcurrency);
      if (reservation === undefined) break;
      claimed.push(reservation);
    }
    return claimed;
  }

  private claimOne(
    queues: readonly string[],
    leaseMs: number,
    holder: string | undefined,
    groupConcurrency: number | undefined,
  ): Reservation | undefined {
    const token = randomUUID();
    const job = this.store.claim(queues, leaseMs, token, groupConcurrency);
    if (job === undefined) return undefined;
    job.holder = holder;
    job.claimedAt = this.store.now();
    const base = {
      token,
      id: job.id,
      queue: job.queue,
      attempt: job.attempts + 1,
      lostDeliveries: job.lostDeliveries,
      leaseExpiresAt: job.leaseExpiresAt,
    };
    try {
      return Object.freeze({ ...base, envelope: fromBackend(job.body) });
    } catch (error) {
      return Object.freeze({ ...base, poison: Object.freeze({ raw: job.body, error: error as Error }) });
    }
  }

  private held(reservation: Reservation, operation: string): StoredJob {
    const job = this.store.find(reservation.queue, reservation.id);
    if (job === undefined) {
      if (this.wasCancelled(reservation))
        throw new JobCancelledError(`memory: ${operation}() of job ${reservation.id} refused: the job was cancelled`);
      throw new LeaseLostError(`memory: ${operation}() of job ${reservation.id} refused: the job is no longer held by this delivery`);
    }
    this.assertHeld(job, reservation, operation);
    return job;
  }

  private assertHeld(job: StoredJob, reservation: Reservation, operation: string): void {
    if (job.token !== reservation.token) {
      throw new LeaseLostError(`memory: ${operation}() of job ${reservation.id} refused: its lease was lost to another delivery`);
    }
  }

  private encode(envelope: JobEnvelope): string {
    assertQueueName(envelope.queue);
    const body = encodeEnvelope(envelope);
    const max = this.capabilities.maxMessageBytes;
    if (max !== undefined) {
      const bytes = Buffer.byteLength(body, 'utf8');
      if (bytes > max)
        throw new PayloadTooLargeError(`memory: job ${envelope.id}: encoded size ${bytes} bytes exceeds the maximum of ${max} bytes`);
    }
    return body;
  }

  private newJob(
    id: string,
    queue: string,
    body: string,
    priority: number,
    availableAt: number,
    uniqueKey: string | undefined,
    group?: string,
  ): StoredJob {
    return {
      ...(group === undefined ? {} : { group }),
      id,
      queue,
      body,
      priority,
      availableAt,
      seq: this.store.nextSeq(),
      attempts: 0,
      lostDeliveries: 0,
      token: undefined,
      leaseExpiresAt: 0,
      uniqueKey,
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new DriverClosedError('memory: the driver is closed');
  }
}

/** Creates a {@link MemoryDriver}; pass `store` to share queues between several drivers. */
export function createMemoryDriver(options: MemoryDriverOptions = {}): MemoryDriver {
  return new MemoryDriver(options);
}

function assertQueueName(queue: string): void {
  if (typeof queue !== 'string' || !isValidQueueName(queue))
    throw new InvalidArgumentError(`memory: invalid queue name ${quoteInput(queue)}`);
}

function assertPositive(what: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`memory: ${what}: expected a number > 0, got ${value}`);
}
