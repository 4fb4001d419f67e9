import { onAbort, type QueueError, type Reservation } from '@queuekit/core';
import { runScript, type ScriptReply, scripts } from './lua-scripts.js';
import { type MarkerClaimer, MarkerListener, type MarkerWaiter } from './marker-listener.js';
import type { RedisCallContext } from './redis-context.js';
import { wrapRedisError } from './redis-errors.js';
import { duplicateForBlocking } from './redis-options.js';
import { claimedReservations, type RedisReservation } from './redis-reservation.js';

/** What {@link RedisClaims} needs from its driver beyond the shared call context. */
export interface RedisClaimsContext extends RedisCallContext {
  /** Base of the blocking connections' CLIENT SETNAME (`:wait` is appended). */
  readonly connectionName: string;
  /** Runs one call: refused after close, tracked so close() waits for it, client errors wrapped. */
  run<T>(action: string, fn: () => Promise<T>): Promise<T>;
  /** Whether close() has begun: waits end and claim loops stop. */
  isClosing(): boolean;
  /** Told about failures of the blocking wait (it retries on its own). */
  onBackgroundError(error: QueueError): void;
  /** Gives back jobs the blocking connection claimed for a waiter that left (no caller awaits it). */
  giveBackInBackground(reservations: readonly Reservation[]): void;
}

/** A claim attempt over one or more queues, without waiting. */
interface ClaimAttempt {
  readonly reservations: RedisReservation[];
  /** Redis-clock epoch ms of the next due delayed job or lease expiry, when nothing was claimed and there is one. */
  readonly nextAt?: number;
  /** Redis-clock epoch ms when the last script ran. */
  readonly now: number;
}

/** Options of {@link RedisClaims.claim}, already checked. */
export interface ClaimCall {
  readonly leaseMs: number;
  readonly max: number;
  readonly waitMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Who claims, stored with each lease ('' when unknown). */
  readonly holder: string;
  /** Claim group by group with this per-group concurrency (ReserveOptions.groupConcurrency); 0 claims without groups. */
  readonly groupConcurrency: number;
}

/**
 * Claiming for reserve() and claim(): one reserve.lua call per queue, in the order given, until
 * `max` jobs are claimed; when none is ready, a wait on the queues' marker keys (one blocking
 * connection per queue, see {@link MarkerListener}) until work may have arrived.
 */
export class RedisClaims {
  readonly #ctx: RedisClaimsContext;
  readonly #listeners = new Map<string, MarkerListener>();
  readonly #waits = new Set<() => void>();

  constructor(context: RedisClaimsContext) {
    this.#ctx = context;
  }

  /**
   * Claims up to `call.max` jobs of `queues` (queue order, then priority, then FIFO), waiting up
   * to `call.waitMs` for the first; resolves [] when nothing arrived, the signal aborted, or the
   * driver began closing.
   */
  async claim(action: string, queues: readonly string[], call: ClaimCall): Promise<Reservation[]> {
    const deadline = Date.now() + Math.max(0, call.waitMs);
    for (;;) {
      const attempt = await this.#ctx.run(action, () => this.claimNow(queues, call.leaseMs, call.max, call.holder, call.groupConcurrency));
      if (attempt.reservations.length > 0) return attempt.reservations;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || isAborted(call.signal) || this.#ctx.isClosing()) return [];
      const untilNext = attempt.nextAt === undefined ? remaining : Math.max(1, attempt.nextAt - attempt.now + 1);
      const delivered = await this.#waitForWork(queues, Math.min(remaining, untilNext), call);
      if (delivered.length > 0) return delivered;
      if (isAborted(call.signal) || this.#ctx.isClosing()) return [];
    }
  }

  /**
   * Claims up to `max` jobs held by `holder`, queue by queue in order, without waiting (paused
   * queues give none); group by group when `groupConcurrency` is >= 1.
   */
  async claimNow(queues: readonly string[], leaseMs: number, max: number, holder: string, groupConcurrency: number): Promise<ClaimAttempt> {
    let reservations: RedisReservation[] = [];
    let nextAt: number | undefined;
    let now = 0;
    for (const queue of queues) {
      const keys = this.#ctx.keysOf(queue);
      const base = this.#ctx.nextToken();
      const [flat, at, time] = (await runScript(
        this.#ctx.client,
        scripts.reserve,
        [keys.ready, keys.delayed, keys.leased, keys.seq, keys.marker, keys.prios, keys.paused],
        [keys.jobPrefix, base, leaseMs, max - reservations.length, holder, groupConcurrency],
      )) as [ScriptReply[], number, number];
      const claimed = claimedReservations(queue, base, flat);
      reservations = reservations.length === 0 ? claimed : reservations.concat(claimed);
      if (reservations.length >= max) break;
      now = Number(time);
      if (at !== -1 && (nextAt === undefined || at < nextAt)) nextAt = Number(at);
    }
    return nextAt === undefined || reservations.length > 0 ? { reservations, now } : { reservations, nextAt, now };
  }

  /** Ends every wait in progress (close() has begun). */
  wakeAll(): void {
    for (const wake of [...this.#waits]) wake();
  }

  /** Stops the blocking loops and closes their connections. */
  close(): void {
    for (const listener of this.#listeners.values()) listener.close();
    this.#listeners.clear();
  }

  /**
   * Waits until a marker wakes this call, `ms` pass, the signal aborts, or the driver closes;
   * resolves jobs when the blocking connection claimed some for this call (single queue only),
   * else [] and the caller claims for itself.
   */
  #waitForWork(queues: readonly string[], ms: number, call: ClaimCall): Promise<Reservation[]> {
    return new Promise<Reservation[]>((resolve) => {
      const listeners = queues.map((queue) => this.#listenerOf(queue));
      let timer: NodeJS.Timeout | undefined;
      let stopOnAbort: (() => void) | undefined;
      const finish = (reservations: Reservation[]): void => {
        if (timer === undefined) return;
        clearTimeout(timer);
        timer = undefined;
        for (const listener of listeners) listener.remove(waiter);
        stopOnAbort?.();
        this.#waits.delete(done);
        resolve(reservations);
      };
      const done = (): void => finish([]);
      const waiter: MarkerWaiter =
        queues.length === 1
          ? {
              wake: done,
              claim: { leaseMs: call.leaseMs, max: call.max, holder: call.holder, groupConcurrency: call.groupConcurrency },
              deliver: finish,
            }
          : { wake: done };
      timer = setTimeout(done, ms);
      this.#waits.add(done);
      for (const listener of listeners) listener.add(waiter);
      // Last, so that a signal that has already aborted finds everything to undo.
      if (call.signal !== undefined) stopOnAbort = onAbort(call.signal, done);
    });
  }

  #listenerOf(queue: string): MarkerListener {
    let listener = this.#listeners.get(queue);
    if (listener === undefined) {
      const blocking = duplicateForBlocking(this.#ctx.client, `${this.#ctx.connectionName}:wait`);
      // Without an 'error' listener ioredis prints every reconnect attempt; the loop's own calls
      // still fail, and their errors reach onBackgroundError through the listener.
      blocking.on('error', () => {});
      const keys = this.#ctx.keysOf(queue);
      const claimer: MarkerClaimer = {
        blockThenClaim: async (connection, timeoutSeconds, { leaseMs, max, holder, groupConcurrency }) => {
          const base = this.#ctx.nextToken();
          const results = await connection
            .pipeline()
            .bzpopmin(keys.marker, timeoutSeconds)
            .evalsha(
              scripts.reserve.sha,
              7,
              keys.ready,
              keys.delayed,
              keys.leased,
              keys.seq,
              keys.marker,
              keys.prios,
              keys.paused,
              keys.jobPrefix,
              base,
              leaseMs,
              max,
              holder,
              groupConcurrency,
            )
            .exec();
          const [popResult, claimResult] = results ?? [];
          if (popResult?.[0]) throw popResult[0];
          const popped = popResult?.[1] !== null && popResult?.[1] !== undefined;
          // A claim that failed (NOSCRIPT after a server restart, say) claimed nothing: the woken
          // waiter claims through the command connection instead, which loads the script.
          if (claimResult?.[0]) return { popped: true, reservations: [] };
          const reply = claimResult?.[1] as [ScriptReply[], number, number] | undefined;
          return { popped, reservations: reply === undefined ? [] : claimedReservations(queue, base, reply[0]) };
        },
        giveBack: (reservations) => this.#ctx.giveBackInBackground(reservations),
      };
      listener = new MarkerListener(blocking, this.#ctx.client, keys.marker, claimer, (error) =>
        this.#ctx.onBackgroundError(wrapRedisError(error, 'blocking wait')),
      );
      this.#listeners.set(queue, listener);
    }
    return listener;
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
