import { randomBytes } from 'node:crypto';
import {
  BASELINE_CAPABILITIES,
  type DeadLetterStore,
  type DriverCapabilities,
  DriverClosedError,
  encodeEnvelope,
  fromBackend,
  HoldQueue,
  InvalidArgumentError,
  isValidQueueName,
  type JobEnvelope,
  type JobFailure,
  LeaseLostError,
  onAbort,
  PayloadTooLargeError,
  type PushOptions,
  type PushResult,
  type QueueDriver,
  type QueueError,
  type QueueStats,
  type ReleaseOptions,
  type Reservation,
  type ReserveOptions,
  UnsupportedError,
} from '@queuekit/core';
import { type Cluster, Redis } from 'ioredis';
import { choosePipelining, pipelineWhenBusy } from './adaptive-pipelining.js';
import { runIdempotentScript, runScript, type ScriptReply, scripts } from './lua-scripts.js';
import { type MarkerClaimer, MarkerListener, type MarkerWaiter } from './marker-listener.js';
import { RedisDeadLetterStore } from './redis-dead-letter-store.js';
import { wrapRedisError } from './redis-errors.js';
import { type QueueKeys, queueKeys, registryKey } from './redis-keys.js';
import {
  duplicateForBlocking,
  openConnection,
  type RedisDriverOptions,
  type ResolvedRedisOptions,
  resolveRedisOptions,
} from './redis-options.js';

/** Envelopes per push script call; larger pushes are split into calls sent back to back. */
const PUSH_CHUNK = 1_000;

/**
 * Claiming ahead: once a caller has settled a delivery with ack() and asked reserve() for the same
 * single queue right after, PREFETCH_AFTER times in a row (a worker loop), each ack also claims
 * that caller's next job in the same round trip, and the next reserve() hands it over without one.
 * A claimed-ahead job nobody asks for within PREFETCH_HOLD_MS is given back untouched (unclaim.lua),
 * and close() gives back whatever is left.
 */
const PREFETCH_AFTER = 2;
/** A reserve() this soon after an ack of the same queue counts as a worker loop, in ms. */
const PREFETCH_WINDOW_MS = 10;
/** How long a claimed-ahead job waits for its reserve() before it is given back, in ms. */
const PREFETCH_HOLD_MS = 20;
/** Claimed-ahead jobs held per queue and lease at most. */
const PREFETCH_MAX = 256;

/** Where a reservation came from, for claiming ahead: one per queue and lease, with its demand. */
interface Origin {
  readonly queue: string;
  readonly leaseMs: number;
  readonly demand: Demand;
}

/** Ack-then-reserve pattern of one queue and lease, and the jobs claimed ahead for it. */
interface Demand {
  lastAckAt: number;
  streak: number;
  /** Claimed-ahead jobs, oldest first; one nobody asks for within PREFETCH_HOLD_MS is given back. */
  readonly held: HoldQueue<Reservation>;
  /** Ack-batch calls of this loop in flight; acks arriving meanwhile wait in `queued`. */
  acking: number;
  readonly queued: QueuedAck[];
}

/** An ack waiting for the next ack-batch call of its worker loop. */
interface QueuedAck {
  readonly reservation: Reservation;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Acknowledgements per ack-batch call at most. Smaller calls with a second one in flight keep
 * Redis and this process busy at once: Redis runs one call while the loop runs the jobs the other
 * claimed (one call of 500 left each side idle while the other worked: about 32k jobs/s against
 * 42-54k with these settings, medians, Worker at concurrency 50, a 2-core machine).
 */
const ACK_BATCH_MAX = 128;
/** Ack-batch calls of one worker loop in flight at most. */
const ACK_CALLS_MAX = 2;
/** Queued acks that justify a further call while one is in flight; fewer wait and join the next. */
const ACK_CALL_START = 32;
/** Jobs an ack-batch call claims beyond the ones it acknowledges, so the loop finds one held while the next call is out. */
const CLAIM_EXTRA = 32;

/** A claim attempt over one or more queues. */
interface ClaimResult {
  readonly reservation?: RedisReservation;
  /** Redis-clock epoch ms of the next due delayed job or lease expiry, when there is one. */
  readonly nextAt?: number;
  /** Redis-clock epoch ms when the last script ran. */
  readonly now: number;
}

/**
 * The Redis driver: one Lua script per multi-key step, blocking reserve through a marker key,
 * every key of a queue under the hash tag `{<queue>}` so it runs on Redis Cluster. See README.md
 * for the key layout.
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
  readonly #listeners = new Map<string, MarkerListener>();
  readonly #waits = new Set<() => void>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Origins by queue, then by lease length. */
  readonly #origins = new Map<string, Map<number, Origin>>();
  #lastOrigin: Origin | undefined;
  readonly #onBackgroundError: (error: QueueError) => void;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(options: RedisDriverOptions = {}) {
    this.#options = resolveRedisOptions(options);
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    const { client, owned } = openConnection(options, this.#options);
    this.client = client;
    this.#owned = owned;
    // An 'error' listener keeps ioredis from printing every reconnect attempt; calls still fail.
    if (owned) {
      client.on('error', () => {});
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
      maxMessageBytes: this.#options.maxMessageBytes,
    } satisfies DriverCapabilities);
    this.deadLetters = new RedisDeadLetterStore({
      client,
      keyPrefix: this.#options.keyPrefix,
      keysOf: (queue) => this.#keysOf(queue),
      run: (action, fn) => this.#run(action, fn),
    });
  }

  /** The key prefix in use. */
  get keyPrefix(): string {
    return this.#options.keyPrefix;
  }

  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    if (options.transaction !== undefined) throw new UnsupportedError('redis: push inside a transaction is not supported');
    if (envelopes.length === 1) return this.#run('push', () => this.#pushOne(envelopes[0]!));
    return this.#run('push', async () => {
      const byQueue = new Map<string, { envelope: JobEnvelope; body: string }[]>();
      for (const envelope of envelopes) {
        this.#assertQueue(envelope.queue);
        const body = this.#encode(envelope);
        let list = byQueue.get(envelope.queue);
        if (list === undefined) {
          list = [];
          byQueue.set(envelope.queue, list);
        }
        list.push({ envelope, body });
      }
      const stored = new Set<JobEnvelope>();
      const calls: Promise<unknown>[] = [];
      for (const [queue, list] of byQueue) {
        calls.push(this.#register(queue));
        const keys = this.#keysOf(queue);
        for (let start = 0; start < list.length; start += PUSH_CHUNK) {
          const chunk = list.slice(start, start + PUSH_CHUNK);
          calls.push(
            this.#pushScript(keys, chunk).then((reply) => {
              reply.forEach((flag, index) => {
                if (flag === 1) stored.add(chunk[index]!.envelope);
              });
            }),
          );
        }
      }
      await Promise.all(calls);
      const pushed: string[] = [];
      const skipped: string[] = [];
      for (const envelope of envelopes) (stored.has(envelope) ? pushed : skipped).push(envelope.id);
      return { pushed, skipped };
    });
  }

  /** One envelope, the producer's usual call: one script call, none of the grouping by queue. */
  async #pushOne(envelope: JobEnvelope): Promise<PushResult> {
    const { queue } = envelope;
    const keys = this.#checkedKeysOf(queue);
    const call = this.#pushScript(keys, [{ envelope, body: this.#encode(envelope) }]);
    const reply = this.#registered.has(queue) ? await call : (await Promise.all([call, this.#register(queue)]))[0];
    return reply[0] === 1 ? { pushed: [envelope.id], skipped: [] } : { pushed: [], skipped: [envelope.id] };
  }

  /** Runs push.lua for envelopes of one queue (at most PUSH_CHUNK); resolves 1 (stored) or 0 (skipped) per envelope. */
  #pushScript(keys: QueueKeys, entries: readonly { envelope: JobEnvelope; body: string }[]): Promise<number[]> {
    const args: (string | number)[] = [keys.jobPrefix, entries.length];
    for (const { envelope, body } of entries) {
      args.push(envelope.id, envelope.priority, Math.floor(envelope.availableAt), envelope.uniqueKey ?? '', body);
    }
    return runScript(
      this.client,
      scripts.push,
      [keys.ready, keys.delayed, keys.seq, keys.marker, keys.unique, keys.prios],
      args,
    ) as Promise<number[]>;
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    this.#assertOpen();
    if (queues.length === 0) throw new InvalidArgumentError('redis: reserve: expected at least one queue');
    for (const queue of queues) this.#checkedKeysOf(queue);
    if (!(options.leaseMs > 0)) throw new InvalidArgumentError(`redis: reserve: leaseMs must be > 0, got ${options.leaseMs}`);
    const deadline = Date.now() + Math.max(0, options.waitMs);
    const leaseMs = Math.ceil(options.leaseMs);
    const origin = queues.length === 1 ? this.#originOf(queues[0]!, leaseMs) : undefined;
    if (origin !== undefined) {
      const demand = origin.demand;
      demand.streak = performance.now() - demand.lastAckAt <= PREFETCH_WINDOW_MS ? demand.streak + 1 : 0;
      const held = demand.held.shift();
      if (held !== undefined) {
        return held;
      }
    }
    for (;;) {
      const claim = await this.#run('reserve', () => this.#claim(queues, leaseMs));
      if (claim.reservation !== undefined) {
        if (origin !== undefined) claim.reservation.origin = origin;
        return claim.reservation;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || isAborted(options.signal) || this.#closing) return undefined;
      const untilNext = claim.nextAt === undefined ? remaining : Math.max(1, claim.nextAt - claim.now + 1);
      const delivered = await this.#waitForWork(queues, Math.min(remaining, untilNext), options.signal, origin);
      if (delivered !== undefined) {
        if (origin !== undefined && delivered instanceof RedisReservation) delivered.origin = origin;
        return delivered;
      }
      if (isAborted(options.signal) || this.#closing) return undefined;
    }
  }

  ack(reservation: Reservation): Promise<void> {
    const origin = reservation instanceof RedisReservation ? reservation.origin : undefined;
    if (origin !== undefined && origin.demand.streak >= PREFETCH_AFTER && !this.#closing) {
      // A worker loop's ack: it joins the loop's next ack-batch call, tracked (and its errors
      // wrapped) by #flushAcks rather than one #run per ack.
      const { demand } = origin;
      return new Promise<void>((resolve, reject) => {
        demand.queued.push({ reservation, resolve, reject });
        if (demand.acking === 0 || (demand.acking < ACK_CALLS_MAX && demand.queued.length >= ACK_CALL_START)) {
          this.#track(this.#flushAcks(origin, demand));
        }
      });
    }
    return this.#run('ack', async () => {
      const keys = this.#keysOf(reservation.queue);
      const reply = await runIdempotentScript(
        this.client,
        scripts.ack,
        [keys.leased, keys.unique],
        [keys.jobPrefix + reservation.id, reservation.id, reservation.token],
      );
      if (reply === -1) throw this.#leaseLost('ack', reservation);
      if (origin !== undefined) origin.demand.lastAckAt = performance.now();
    });
  }

  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    await this.#run('release', async () => {
      const body = options.envelope === undefined ? '' : this.#encode(options.envelope);
      const priority = options.envelope === undefined ? '' : options.envelope.priority;
      const keys = this.#keysOf(reservation.queue);
      const reply = await runScript(
        this.client,
        scripts.release,
        [keys.ready, keys.delayed, keys.leased, keys.seq, keys.marker, keys.prios],
        [keys.jobPrefix + reservation.id, reservation.id, reservation.token, Math.max(0, Math.ceil(options.delayMs)), body, priority],
      );
      if (reply === -1) throw this.#leaseLost('release', reservation);
    });
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    if (!(leaseMs > 0)) throw new InvalidArgumentError(`redis: extend: leaseMs must be > 0, got ${leaseMs}`);
    return this.#run('extend', async () => {
      const keys = this.#keysOf(reservation.queue);
      const reply = await runScript(
        this.client,
        scripts.extend,
        [keys.leased],
        [keys.jobPrefix + reservation.id, reservation.id, reservation.token, Math.ceil(leaseMs)],
      );
      if (reply === -1) throw this.#leaseLost('extend', reservation);
      return Number(reply);
    });
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
          [keys.leased, keys.unique, keys.dead, keys.deadInfo, keys.deadBody, keys.seq],
          [keys.jobPrefix + reservation.id, reservation.id, reservation.token, Math.floor(failure.failedAt), record],
        ),
        this.#register(reservation.queue),
      ]);
      if (reply === -1) throw this.#leaseLost('deadLetter', reservation);
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#assertQueue(queue);
    return this.#run('stats', async () => {
      const keys = this.#keysOf(queue);
      const reply = (await runScript(
        this.client,
        scripts.stats,
        [keys.ready, keys.delayed, keys.leased, keys.seq, keys.prios, keys.dead],
        [keys.jobPrefix],
      )) as number[];
      const [ready = 0, delayed = 0, reserved = 0, dead = 0, oldest = -1] = reply;
      return { queue, ready, delayed, reserved, dead, oldestReadyAt: oldest === -1 ? undefined : oldest };
    });
  }

  async ping(): Promise<number> {
    return this.#run('ping', async () => {
      const started = performance.now();
      choosePipelining(this.client);
      await this.client.ping();
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

  close(): Promise<void> {
    if (this.#closed === undefined) this.#closed = this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    for (const wake of [...this.#waits]) wake();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    const held = [...this.#origins.values()].flatMap((byLease) => [...byLease.values()].flatMap(({ demand }) => demand.held.drain()));
    await Promise.all(held.map((reservation) => this.#unclaim(reservation)));
    for (const listener of this.#listeners.values()) listener.close();
    this.#listeners.clear();
    if (this.#owned) {
      try {
        await this.client.quit();
      } catch {
        // Already disconnected: nothing is left to release.
        this.client.disconnect();
      }
    }
  }

  /** Tries each queue in order; the first claim wins. */
  async #claim(queues: readonly string[], leaseMs: number): Promise<ClaimResult> {
    let nextAt: number | undefined;
    let now = 0;
    for (const queue of queues) {
      const keys = this.#keysOf(queue);
      this.#tokenCount += 1;
      const token = `${this.#tokenPrefix}.${this.#tokenCount}`;
      const reply = (await runScript(
        this.client,
        scripts.reserve,
        [keys.ready, keys.delayed, keys.leased, keys.seq, keys.marker, keys.prios],
        [keys.jobPrefix, token, leaseMs],
      )) as ScriptReply[];
      if (reply[0] === 1) {
        const [, id, body, deliveryCount, leaseExpiresAt] = reply as [number, string, string, number, number];
        return { reservation: new RedisReservation(queue, id, body, token, deliveryCount, leaseExpiresAt), now: Number(reply[5]) };
      }
      const at = Number(reply[1]);
      now = Number(reply[2]);
      if (at !== -1 && (nextAt === undefined || at < nextAt)) nextAt = at;
    }
    return nextAt === undefined ? { now } : { nextAt, now };
  }

  /**
   * Sends the queued acks of one worker loop in ack-batch calls, up to ACK_CALLS_MAX in flight:
   * every ack that arrives while a call is out joins the next one (group commit). Each call also
   * claims as many next jobs as it acknowledges plus CLAIM_EXTRA, held for the loop's next
   * reserve() calls. Replies come back in order on the one connection, so held jobs keep their order.
   */
  async #flushAcks(origin: Origin, demand: Demand): Promise<void> {
    demand.acking += 1;
    try {
      for (let first = true; demand.queued.length > 0; first = false) {
        // Let the callers the last call served run first, so their acks join this call.
        if (!first) await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = demand.queued.splice(0, ACK_BATCH_MAX);
        const wanted = this.#closing ? 0 : Math.max(0, Math.min(batch.length + CLAIM_EXTRA, PREFETCH_MAX - demand.held.length));
        const base = this.#nextToken();
        const keys = this.#keysOf(origin.queue);
        const args: (string | number)[] = [keys.jobPrefix, base, origin.leaseMs, wanted];
        for (const { reservation } of batch) args.push(reservation.id, reservation.token);
        let reply: [number[], (string | number)[]];
        try {
          reply = (await runIdempotentScript(
            this.client,
            scripts.ackBatch,
            [keys.ready, keys.delayed, keys.leased, keys.seq, keys.marker, keys.prios, keys.unique],
            args,
          )) as [number[], (string | number)[]];
        } catch (error) {
          const wrapped = wrapRedisError(error, 'ack');
          for (const queued of batch) queued.reject(wrapped);
          continue;
        }
        const [codes, claimed] = reply;
        // Claimed jobs are held before the acks resolve, so a close() waiting for those acks finds
        // every held job and gives it back.
        for (let i = 0, n = 1; i < claimed.length; i += 4, n += 1) {
          const reservation = new RedisReservation(
            origin.queue,
            claimed[i] as string,
            claimed[i + 1] as string,
            `${base}:${n}`,
            Number(claimed[i + 2]),
            Number(claimed[i + 3]),
          );
          reservation.origin = origin;
          demand.held.push(reservation);
        }
        demand.lastAckAt = performance.now();
        for (let index = 0; index < batch.length; index += 1) {
          const queued = batch[index]!;
          if (codes[index] === -1) queued.reject(this.#leaseLost('ack', queued.reservation));
          else queued.resolve();
        }
      }
    } finally {
      demand.acking -= 1;
    }
  }

  /** Gives a claimed-ahead job back as if never claimed; a failure only delays it until its lease runs out. */
  async #unclaim(reservation: Reservation): Promise<void> {
    const keys = this.#keysOf(reservation.queue);
    try {
      await runScript(
        this.client,
        scripts.unclaim,
        [keys.ready, keys.leased, keys.marker, keys.prios],
        [keys.jobPrefix + reservation.id, reservation.id, reservation.token],
      );
    } catch (error) {
      this.#onBackgroundError(wrapRedisError(error, 'unclaim'));
    }
  }

  #nextToken(): string {
    this.#tokenCount += 1;
    return `${this.#tokenPrefix}.${this.#tokenCount}`;
  }

  /** The origin of reservations of `queue` with `leaseMs`, made once (a worker loop asks for the same one each time). */
  #originOf(queue: string, leaseMs: number): Origin {
    const last = this.#lastOrigin;
    if (last !== undefined && last.queue === queue && last.leaseMs === leaseMs) return last;
    let byLease = this.#origins.get(queue);
    if (byLease === undefined) {
      byLease = new Map();
      this.#origins.set(queue, byLease);
    }
    let origin = byLease.get(leaseMs);
    if (origin === undefined) {
      const demand: Demand = {
        lastAckAt: Number.NEGATIVE_INFINITY,
        streak: 0,
        held: new HoldQueue<Reservation>(PREFETCH_HOLD_MS, (reservation) => {
          demand.streak = 0;
          this.#track(this.#unclaim(reservation));
        }),
        acking: 0,
        queued: [],
      };
      origin = { queue, leaseMs, demand };
      byLease.set(leaseMs, origin);
    }
    this.#lastOrigin = origin;
    return origin;
  }

  /** Counts `promise` in flight until it settles, so close() waits for it. */
  #track(promise: Promise<unknown>): void {
    this.#inFlight.add(promise);
    const settled = () => this.#inFlight.delete(promise);
    // Both outcomes end the tracking; a rejection stays the caller's to handle.
    promise.then(settled, settled);
  }

  /**
   * Waits until a marker wakes this call, `ms` pass, the signal aborts, or the driver closes;
   * resolves a job when the blocking connection claimed one for this call (single queue only).
   */
  #waitForWork(
    queues: readonly string[],
    ms: number,
    signal: AbortSignal | undefined,
    origin: Origin | undefined,
  ): Promise<Reservation | undefined> {
    return new Promise<Reservation | undefined>((resolve) => {
      const listeners = queues.map((queue) => this.#listenerOf(queue));
      let timer: NodeJS.Timeout | undefined;
      let stopOnAbort: (() => void) | undefined;
      const finish = (reservation: Reservation | undefined): void => {
        if (timer === undefined) return;
        clearTimeout(timer);
        timer = undefined;
        for (const listener of listeners) listener.remove(waiter);
        stopOnAbort?.();
        this.#waits.delete(done);
        resolve(reservation);
      };
      const done = (): void => finish(undefined);
      const waiter: MarkerWaiter =
        origin === undefined ? { wake: done } : { wake: done, leaseMs: origin.leaseMs, deliver: (reservation) => finish(reservation) };
      timer = setTimeout(done, ms);
      this.#waits.add(done);
      for (const listener of listeners) listener.add(waiter);
      // Last, so that a signal that has already aborted finds everything to undo.
      if (signal !== undefined) stopOnAbort = onAbort(signal, done);
    });
  }

  #listenerOf(queue: string): MarkerListener {
    let listener = this.#listeners.get(queue);
    if (listener === undefined) {
      const blocking = duplicateForBlocking(this.client, `${this.#options.connectionName}:wait`);
      blocking.on('error', () => {});
      // The blocking loop retries on its own; reserve() still claims through the command
      // connection, whose failures do reach the caller.
      const keys = this.#keysOf(queue);
      const claimer: MarkerClaimer = {
        blockThenClaim: async (connection, timeoutSeconds, leaseMs) => {
          const token = this.#nextToken();
          const results = await connection
            .pipeline()
            .bzpopmin(keys.marker, timeoutSeconds)
            .evalsha(
              scripts.reserve.sha,
              6,
              keys.ready,
              keys.delayed,
              keys.leased,
              keys.seq,
              keys.marker,
              keys.prios,
              keys.jobPrefix,
              token,
              leaseMs,
            )
            .exec();
          const [popResult, claimResult] = results ?? [];
          if (popResult?.[0]) throw popResult[0];
          const popped = popResult?.[1] !== null && popResult?.[1] !== undefined;
          // A claim that failed (NOSCRIPT after a server restart, say) claimed nothing: the woken
          // waiter claims through the command connection instead, which loads the script.
          const reply = claimResult?.[0] ? undefined : (claimResult?.[1] as ScriptReply[] | undefined);
          if (reply?.[0] !== 1) return { popped: popped || claimResult?.[0] != null };
          const [, id, body, deliveryCount, leaseExpiresAt] = reply as [number, string, string, number, number];
          return { popped, reservation: new RedisReservation(queue, id, body, token, deliveryCount, leaseExpiresAt) };
        },
        giveBack: (reservation) => this.#unclaim(reservation),
      };
      listener = new MarkerListener(blocking, this.client, keys.marker, claimer, (error) =>
        this.#onBackgroundError(wrapRedisError(error, 'blocking wait')),
      );
      this.#listeners.set(queue, listener);
    }
    return listener;
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
      throw new InvalidArgumentError(`redis: invalid queue name ${JSON.stringify(queue)}`);
  }

  #assertOpen(): void {
    if (this.#closing) throw new DriverClosedError('redis: the driver is closed');
  }

  #leaseLost(action: string, reservation: Reservation): LeaseLostError {
    return new LeaseLostError(`redis: ${action} of job ${reservation.id} in queue ${reservation.queue}: the lease was lost`);
  }

  /** Runs one call: refused after close, tracked so close() can wait for it, client errors wrapped. */
  async #run<T>(action: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    const promise = fn();
    this.#inFlight.add(promise);
    try {
      return await promise;
    } catch (error) {
      throw wrapRedisError(error, action);
    } finally {
      this.#inFlight.delete(promise);
    }
  }
}

/**
 * A reservation of this driver: decodes its body once, and remembers the worker loop it came from
 * (for claiming ahead) in a field of its own rather than a WeakMap entry per job.
 */
class RedisReservation implements Reservation {
  readonly token: string;
  readonly id: string;
  readonly queue: string;
  readonly deliveryCount: number;
  readonly leaseExpiresAt: number;
  readonly envelope?: JobEnvelope;
  readonly poison?: { readonly raw: string; readonly error: Error };
  /** The worker loop this reservation was claimed for; private, so not part of its value. */
  #origin: Origin | undefined;

  constructor(queue: string, id: string, body: string, token: string, deliveryCount: number, leaseExpiresAt: number) {
    this.token = token;
    this.id = id;
    this.queue = queue;
    this.deliveryCount = deliveryCount;
    this.leaseExpiresAt = leaseExpiresAt;
    try {
      this.envelope = fromBackend(body);
    } catch (error) {
      this.poison = { raw: body, error: error as Error };
    }
  }

  /** The worker loop this reservation was claimed for, if any. */
  get origin(): Origin | undefined {
    return this.#origin;
  }

  set origin(origin: Origin | undefined) {
    this.#origin = origin;
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** Creates a Redis driver; see {@link RedisDriverOptions}. */
export function createRedisDriver(options: RedisDriverOptions = {}): RedisDriver {
  return new RedisDriver(options);
}
