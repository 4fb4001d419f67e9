import { randomBytes } from 'node:crypto';
import {
  type AckAndClaimOptions,
  type AckAndClaimResult,
  type AckOptions,
  type CancelOutcome,
  type ClaimOptions,
  type DeadLetterStore,
  type DriverCapabilities,
  DriverClosedError,
  InvalidArgumentError,
  isValidQueueName,
  type JobEnvelope,
  type JobFailure,
  type JobInfo,
  type JobListOptions,
  type JobLookupOptions,
  PayloadTooLargeError,
  type PostponeOptions,
  type PushOptions,
  type PushResult,
  type QueueDriver,
  type QueueError,
  type QueueStats,
  quoteInput,
  type ReleaseOptions,
  type Reservation,
  type ReserveOptions,
} from '@queuekit/core';
import { BASELINE_CAPABILITIES, checkGroupConcurrency, encodeEnvelope, InFlightCalls, refuseTransaction } from '@queuekit/core/driver';
import { type Cluster, Redis } from 'ioredis';
import { choosePipelining, pipelineWhenBusy } from './adaptive-pipelining.js';
import { runScript, scripts } from './lua-scripts.js';
import { RedisClaims } from './redis-claims.js';
import { RedisCoordinationStore } from './redis-coordination-store.js';
import { RedisDeadLetterStore } from './redis-dead-letter-store.js';
import { refusalError, wrapRedisError } from './redis-errors.js';
import { cancel, getJob, listJobs, pause, type RedisJobsContext, resume, setProgress } from './redis-jobs.js';
import { type QueueKeys, queueKeys, registryKey } from './redis-keys.js';
import { openConnection, type RedisDriverOptions, type ResolvedRedisOptions, resolveRedisOptions } from './redis-options.js';
import { postponeOne } from './redis-postpone.js';
import { pushMany, type RedisPushContext } from './redis-push.js';
import { RedisRateLimitStore } from './redis-rate-limit-store.js';
import { ackAndClaim, ackOne, extendMany, giveBackMany, releaseOne } from './redis-settle.js';

/**
 * The Redis driver: one Lua script per multi-key step, blocking reserve through a marker key,
 * every key of a queue under the hash tag `{<queue>}` so it runs on Redis Cluster. See README.md
 * for the key layout. Claiming lives in redis-claims.ts and settling in redis-settle.ts; the
 * driver holds no job between calls (batching is its caller's, through the batch members).
 */
export class RedisDriver implements QueueDriver {
  readonly name = 'redis';
  readonly capabilities: DriverCapabilities;
  readonly deadLetters: DeadLetterStore;
  /** The command connection (created by the driver or given to it). */
  readonly client: Redis | Cluster;
  readonly #owned: boolean;
  readonly #options: ResolvedRedisOptions;
  readonly #tokenPrefix = randomBytes(6).toString('base64url');
  #tokenCount = 0;
  readonly #keys = new Map<string, QueueKeys>();
  readonly #registered = new Set<string>();
  readonly #inFlight = new InFlightCalls();
  /** What the claim, settle, push and lookup modules use of this driver. */
  readonly #context: RedisJobsContext;
  readonly #pushContext: RedisPushContext;
  readonly #claims: RedisClaims;
  readonly #onBackgroundError: (error: QueueError) => void;
  #closing = false;
  #closed: Promise<void> | undefined;
  /** Why the owned connection last failed, until it is ready again. */
  #connectionError: Error | undefined;

  constructor(options: RedisDriverOptions = {}) {
    this.#options = resolveRedisOptions(options);
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    const { client, owned } = openConnection(options, this.#options);
    this.client = client;
    this.#owned = owned;
    // An 'error' listener keeps ioredis from printing every reconnect attempt; calls still fail.
    // The last connection error is kept so that ping() can report why the server is unreachable
    // at once instead of waiting out the reconnects.
    if (owned) {
      client.on('error', (error: Error) => {
        this.#connectionError = error;
      });
      client.on('ready', () => {
        this.#connectionError = undefined;
      });
      if (client instanceof Redis) pipelineWhenBusy(client);
    }
    this.capabilities = Object.freeze({
      ...BASELINE_CAPABILITIES,
      delay: 'native',
      lease: 'native',
      blockingReserve: true,
      bulkPush: true,
      uniqueKeys: true,
      rewriteOnRelease: true,
      batch: true,
      lookup: true,
      retention: this.#options.retention.completed,
      progress: true,
      cancel: true,
      pause: true,
      groups: true,
      maxMessageBytes: this.#options.maxMessageBytes,
    } satisfies DriverCapabilities);
    this.deadLetters = new RedisDeadLetterStore({
      client,
      keyPrefix: this.#options.keyPrefix,
      keysOf: (queue) => this.#keysOf(queue),
      run: (action, fn) => this.#run(action, fn),
    });
    this.#context = {
      client,
      keysOf: (queue) => this.#keysOf(queue),
      nextToken: () => this.#nextToken(),
      retention: this.#options.retention,
      keyPrefix: this.#options.keyPrefix,
    };
    this.#pushContext = {
      ...this.#context,
      checkedKeysOf: (queue) => this.#checkedKeysOf(queue),
      encode: (envelope) => this.#encode(envelope),
      register: (queue) => (this.#registered.has(queue) ? undefined : this.#register(queue)),
    };
    this.#claims = new RedisClaims({
      ...this.#context,
      connectionName: this.#options.connectionName,
      run: (action, fn) => this.#run(action, fn),
      isClosing: () => this.#closing,
      onBackgroundError: (error) => this.#onBackgroundError(error),
      giveBackInBackground: (reservations) => this.#giveBackInBackground(reservations),
    });
  }

  /**
   * Token buckets on this driver's connection, shared by every worker process on the same Redis.
   * The store does not own the connection: closing the driver closes it.
   */
  createRateLimitStore(): RedisRateLimitStore {
    return new RedisRateLimitStore({ connection: this.client, keyPrefix: this.#options.keyPrefix });
  }

  /** Counters and leased keys for job middleware on this driver's connection, shared by every worker on the same Redis. */
  createCoordinationStore(): RedisCoordinationStore {
    return new RedisCoordinationStore(this.client, this.#options.keyPrefix);
  }

  /** Hands a delivery back unrun, due after `options.delayMs`, neither count changed. */
  async postpone(reservation: Reservation, options: PostponeOptions): Promise<void> {
    await this.#run('postpone', () => postponeOne(this.#context, reservation, options.delayMs));
  }

  /** The key prefix in use. */
  get keyPrefix(): string {
    return this.#options.keyPrefix;
  }

  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    refuseTransaction(this.name, options);
    return this.#run('push', () => pushMany(this.#pushContext, envelopes));
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    this.#checkClaim('reserve', queues, options.leaseMs);
    const claimed = await this.#claims.claim('reserve', queues, {
      leaseMs: Math.ceil(options.leaseMs),
      max: 1,
      waitMs: options.waitMs,
      signal: options.signal,
      holder: options.holder ?? '',
      groupConcurrency: checkGroupConcurrency(this.name, options.groupConcurrency) ?? 0,
    });
    return claimed[0];
  }

  async claim(queues: readonly string[], options: ClaimOptions): Promise<Reservation[]> {
    this.#checkClaim('claim', queues, options.leaseMs);
    if (!Number.isInteger(options.max) || options.max < 1)
      throw new InvalidArgumentError(`redis: claim: max must be an integer >= 1, got ${options.max}`);
    return this.#claims.claim('claim', queues, {
      leaseMs: Math.ceil(options.leaseMs),
      max: options.max,
      waitMs: options.waitMs,
      signal: options.signal,
      holder: options.holder ?? '',
      groupConcurrency: checkGroupConcurrency(this.name, options.groupConcurrency) ?? 0,
    });
  }

  ack(reservation: Reservation, options: AckOptions = {}): Promise<void> {
    return this.#run('ack', () => ackOne(this.#context, reservation, options.record));
  }

  async ackAndClaim(acks: readonly Reservation[], queues: readonly string[], options: AckAndClaimOptions): Promise<AckAndClaimResult> {
    if (!Number.isInteger(options.max) || options.max < 0)
      throw new InvalidArgumentError(`redis: ackAndClaim: max must be an integer >= 0, got ${options.max}`);
    if (options.max > 0) this.#checkClaim('ackAndClaim', queues, options.leaseMs);
    else this.#assertOpen();
    if (acks.length === 0 && options.max === 0) return { leaseLost: [], claimed: [] };
    const leaseMs = options.max > 0 ? Math.ceil(options.leaseMs) : 0;
    const groupConcurrency = checkGroupConcurrency(this.name, options.groupConcurrency) ?? 0;
    return this.#run('ackAndClaim', () =>
      ackAndClaim(this.#context, acks, queues, leaseMs, options.max, options.holder ?? '', options.records, groupConcurrency),
    );
  }

  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    await this.#run('release', () => {
      const body = options.envelope === undefined ? '' : this.#encode(options.envelope);
      const priority = options.envelope === undefined ? '' : options.envelope.priority;
      return releaseOne(this.#context, reservation, options.delayMs, body, priority);
    });
  }

  giveBack(reservations: readonly Reservation[]): Promise<number> {
    return this.#run('giveBack', () => giveBackMany(this.#context, reservations));
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    if (!(leaseMs > 0)) throw new InvalidArgumentError(`redis: extend: leaseMs must be > 0, got ${leaseMs}`);
    const [expiresAt] = await this.#run('extend', () => extendMany(this.#context, [reservation], leaseMs));
    if (typeof expiresAt !== 'number') throw refusalError(expiresAt === 'cancelled' ? -2 : -1, 'extend', reservation);
    return expiresAt;
  }

  async extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | 'cancelled' | undefined)[]> {
    if (!(leaseMs > 0)) throw new InvalidArgumentError(`redis: extendMany: leaseMs must be > 0, got ${leaseMs}`);
    return this.#run('extendMany', () => extendMany(this.#context, reservations, leaseMs));
  }

  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    await this.#run('deadLetter', async () => {
      const keys = this.#keysOf(reservation.queue);
      const record = JSON.stringify({
        reason: failure.reason,
        error: failure.error,
        attempts: failure.attempts,
        firstFailedAt: failure.firstFailedAt,
        failedAt: failure.failedAt,
      });
      const [reply] = await Promise.all([
        runScript(
          this.client,
          scripts.deadLetter,
          [keys.leased, keys.unique, keys.dead, keys.deadInfo, keys.deadBody, keys.seq, keys.cancelledInfo],
          [keys.jobPrefix + reservation.id, reservation.id, reservation.token, Math.floor(failure.failedAt), record],
        ),
        this.#register(reservation.queue),
      ]);
      if (reply !== 1) throw refusalError(reply, 'deadLetter', reservation);
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#assertQueue(queue);
    return this.#run('stats', async () => {
      const keys = this.#keysOf(queue);
      const reply = (await runScript(
        this.client,
        scripts.stats,
        [keys.ready, keys.delayed, keys.leased, keys.seq, keys.prios, keys.dead, keys.paused, keys.completedInfo],
        [keys.jobPrefix],
      )) as number[];
      const [ready = 0, delayed = 0, reserved = 0, dead = 0, oldest = -1, paused = 0, completed = 0] = reply;
      return {
        queue,
        ready,
        delayed,
        reserved,
        dead,
        oldestReadyAt: oldest === -1 ? undefined : oldest,
        paused: paused === 1,
        ...(this.capabilities.retention ? { completed } : {}),
      };
    });
  }

  async ping(): Promise<number> {
    return this.#run('ping', async () => {
      const started = performance.now();
      choosePipelining(this.client);
      await this.#failFastWhileDown(() => this.client.ping());
      return performance.now() - started;
    });
  }

  async purge(queue: string): Promise<number> {
    this.#assertQueue(queue);
    return this.#run('purge', async () => {
      const keys = this.#keysOf(queue);
      return Number(await runScript(this.client, scripts.purge, [keys.ready, keys.delayed, keys.unique, keys.prios], [keys.jobPrefix]));
    });
  }

  /** The job with this id: waiting, delayed, active, or the completed or cancelled record kept; undefined when none. */
  async getJob(id: string, options: JobLookupOptions = {}): Promise<JobInfo | undefined> {
    this.#checkLookup('getJob', id, options.queue);
    return this.#run('getJob', () => getJob(this.#context, id, options.queue));
  }

  /** Jobs of one queue in one state: in run order, or most recently finished first. */
  async listJobs(options: JobListOptions): Promise<JobInfo[]> {
    this.#assertOpen();
    return this.#run('listJobs', () => listJobs(this.#context, options));
  }

  /** Stores the held job's progress (JSON text made by core). */
  async setProgress(reservation: Reservation, progress: string): Promise<void> {
    await this.#run('setProgress', () => setProgress(this.#context, reservation, progress));
  }

  /** Ends a waiting, delayed or active job for good, keeping it as cancelled. */
  async cancel(id: string, options: JobLookupOptions = {}): Promise<CancelOutcome> {
    this.#checkLookup('cancel', id, options.queue);
    return this.#run('cancel', () => cancel(this.#context, id, options.queue));
  }

  /** Claims from `queue` take nothing until resume(), in every process on this Redis. */
  async pause(queue: string): Promise<void> {
    this.#assertQueue(queue);
    await this.#run('pause', () => Promise.all([pause(this.#context, queue), this.#register(queue)]));
  }

  /** Claims take from `queue` again; reserves blocked on it wake. */
  async resume(queue: string): Promise<void> {
    this.#assertQueue(queue);
    await this.#run('resume', () => resume(this.#context, queue));
  }

  close(): Promise<void> {
    if (this.#closed === undefined) this.#closed = this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    this.#claims.wakeAll();
    await this.#inFlight.drained();
    this.#claims.close();
    if (this.#owned) {
      // QUIT would wait in the offline queue for a server that is down; there is nothing to flush.
      if (this.client.status !== 'ready') {
        this.client.disconnect();
        return;
      }
      try {
        await this.client.quit();
      } catch {
        // Already disconnected: nothing is left to release.
        this.client.disconnect();
      }
    }
  }

  /**
   * Gives back jobs the blocking connection claimed for a waiter that left. No caller awaits it:
   * close() waits for it, and a failure goes to onBackgroundError (the jobs then come back when
   * their lease runs out, counted as a lost delivery).
   */
  #giveBackInBackground(reservations: readonly Reservation[]): void {
    const promise = giveBackMany(this.#context, reservations).catch((error: unknown) => {
      this.#onBackgroundError(wrapRedisError(error, 'giveBack'));
    });
    this.#inFlight.add(promise);
  }

  #nextToken(): string {
    this.#tokenCount += 1;
    return `${this.#tokenPrefix}.${this.#tokenCount}`;
  }

  /** Checks what reserve(), claim() and a claiming ackAndClaim() share: open, queues, lease. */
  #checkClaim(action: string, queues: readonly string[], leaseMs: number): void {
    this.#assertOpen();
    if (queues.length === 0) throw new InvalidArgumentError(`redis: ${action}: expected at least one queue`);
    for (const queue of queues) this.#checkedKeysOf(queue);
    if (!(leaseMs > 0)) throw new InvalidArgumentError(`redis: ${action}: leaseMs must be > 0, got ${leaseMs}`);
  }

  /** Checks what getJob() and cancel() share: open, an id, a valid queue when one is given. */
  #checkLookup(action: string, id: string, queue: string | undefined): void {
    this.#assertOpen();
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError(`redis: ${action}: expected a job id, got ${quoteInput(id)}`);
    if (queue !== undefined) this.#assertQueue(queue);
  }

  async #register(queue: string): Promise<void> {
    if (this.#registered.has(queue)) return;
    await this.client.sadd(registryKey(this.#options.keyPrefix), queue);
    this.#registered.add(queue);
  }

  #keysOf(queue: string): QueueKeys {
    let keys = this.#keys.get(queue);
    if (keys === undefined) {
      keys = queueKeys(this.#options.keyPrefix, queue);
      this.#keys.set(queue, keys);
    }
    return keys;
  }

  /** The keys of `queue`, its name checked the first time (a worker loop asks for the same queue per job). */
  #checkedKeysOf(queue: string): QueueKeys {
    const keys = this.#keys.get(queue);
    if (keys !== undefined) return keys;
    this.#assertQueue(queue);
    return this.#keysOf(queue);
  }

  #encode(envelope: JobEnvelope): string {
    const body = encodeEnvelope(envelope);
    // UTF-8 is at most 3 bytes per UTF-16 unit, so only long bodies need counting.
    if (body.length * 3 > this.#options.maxMessageBytes) {
      const bytes = Buffer.byteLength(body);
      if (bytes > this.#options.maxMessageBytes) {
        throw new PayloadTooLargeError(
          `redis: envelope of job ${envelope.id} is ${bytes} bytes, above maxMessageBytes ${this.#options.maxMessageBytes}`,
        );
      }
    }
    return body;
  }

  #assertQueue(queue: string): void {
    if (typeof queue !== 'string' || !isValidQueueName(queue))
      throw new InvalidArgumentError(`redis: invalid queue name ${quoteInput(queue)}`);
  }

  #assertOpen(): void {
    if (this.#closing) throw new DriverClosedError('redis: the driver is closed');
  }

  /**
   * Runs `call` when the owned connection is ready; while it is down, fails with the connection's
   * own error (refused, unknown host…) as soon as there is one, instead of queueing the call
   * behind ioredis's reconnects (about 10 s with the default retries). Other clients: `call`.
   */
  #failFastWhileDown<T>(call: () => Promise<T>): Promise<T> {
    if (!this.#owned || this.client.status === 'ready') return call();
    const known = this.#connectionError;
    if (known !== undefined) return Promise.reject(known);
    return new Promise<T>((resolve, reject) => {
      const onError = (error: Error) => {
        this.client.off('error', onError);
        reject(error);
      };
      this.client.on('error', onError);
      call().then(
        (value) => {
          this.client.off('error', onError);
          resolve(value);
        },
        (error: unknown) => {
          this.client.off('error', onError);
          reject(error);
        },
      );
    });
  }

  /** Runs one call: refused after close, tracked so close() can wait for it, client errors wrapped. */
  async #run<T>(action: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await this.#inFlight.track(fn);
    } catch (error) {
      throw wrapRedisError(error, action);
    }
  }
}

/** Creates a Redis driver; see {@link RedisDriverOptions}. */
export function createRedisDriver(options: RedisDriverOptions = {}): RedisDriver {
  return new RedisDriver(options);
}
