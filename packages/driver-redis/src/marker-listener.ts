import type { Reservation } from '@queuekit/core';
import type { Cluster, Redis } from 'ioredis';

/** A reserve() or claim() call waiting for work. */
export interface MarkerWaiter {
  /** Ends the wait; the caller claims for itself. */
  wake(): void;
  /**
   * Set for a wait on this queue alone: the listener may claim for it on the blocking connection
   * (up to `max` jobs under `leaseMs`) and hand the jobs over with {@link deliver}, saving the
   * caller a round trip.
   */
  readonly claim?: MarkerClaim;
  /** Ends the wait with jobs claimed for it (at least one, at most its `claim.max`). */
  deliver?(reservations: Reservation[]): void;
}

/** What a waiter on one queue lets the listener claim for it. */
export interface MarkerClaim {
  /** Lease of the claimed jobs, in ms. */
  readonly leaseMs: number;
  /** Jobs to claim at most. */
  readonly max: number;
  /** Who claims, stored with each lease ('' when unknown). */
  readonly holder: string;
  /** Claim group by group with this per-group concurrency; 0 claims without groups. */
  readonly groupConcurrency: number;
}

/** What the listener needs from its driver for claiming on the blocking connection. */
export interface MarkerClaimer {
  /**
   * Sends BZPOPMIN on the marker and, pipelined behind it, the claim script, so Redis runs the
   * claim the moment the wait ends (or times out). Resolves whether a marker was popped and the
   * jobs claimed (none when nothing was ready).
   */
  blockThenClaim(
    blocking: Redis | Cluster,
    timeoutSeconds: number,
    claim: MarkerClaim,
  ): Promise<{ popped: boolean; reservations: Reservation[] }>;
  /** Gives back jobs claimed for a waiter that stopped waiting meanwhile. */
  giveBack(reservations: Reservation[]): void;
}

/** Seconds one BZPOPMIN blocks before the loop checks whether anyone still waits. */
const BLOCK_SECONDS = 2;

/**
 * Blocks on one queue's marker key with BZPOPMIN on a connection of its own, and hands each popped
 * marker to the longest-waiting reserve() call of this process. Producers set the marker (push,
 * release, retry), and so does a claim that leaves ready jobs behind, so one wake leads to the
 * next while work remains — across processes too, since any blocked connection may pop it. When
 * nobody here waits any more, a popped marker is put back for the other processes.
 *
 * When the longest waiter waits on this queue alone, the claim script is pipelined behind the
 * BZPOPMIN, so a job pushed to an idle worker is claimed by Redis right as the wait ends (up to
 * the waiter's max, handed over in one piece).
 */
export class MarkerListener {
  readonly #blocking: Redis | Cluster;
  readonly #commands: Redis | Cluster;
  readonly #marker: string;
  readonly #claimer: MarkerClaimer;
  readonly #onError: (error: unknown) => void;
  readonly #waiters = new Set<MarkerWaiter>();
  #running = false;
  #closed = false;

  /**
   * @param blocking a connection used only by this listener, closed by {@link close}
   * @param commands the driver's command connection, used to put a marker back
   */
  constructor(
    blocking: Redis | Cluster,
    commands: Redis | Cluster,
    marker: string,
    claimer: MarkerClaimer,
    onError: (error: unknown) => void,
  ) {
    this.#blocking = blocking;
    this.#commands = commands;
    this.#marker = marker;
    this.#claimer = claimer;
    this.#onError = onError;
  }

  /** Registers a waiter (woken at most once) and starts blocking if not already. */
  add(waiter: MarkerWaiter): void {
    if (this.#closed) return;
    this.#waiters.add(waiter);
    if (!this.#running) void this.#loop();
  }

  /** Forgets a waiter that stopped waiting for another reason. */
  remove(waiter: MarkerWaiter): void {
    this.#waiters.delete(waiter);
  }

  /** Stops the loop and closes the blocking connection. */
  close(): void {
    this.#closed = true;
    this.#waiters.clear();
    this.#blocking.disconnect();
  }

  async #loop(): Promise<void> {
    this.#running = true;
    let failures = 0;
    try {
      while (this.#waiters.size > 0 && !this.#closed) {
        try {
          const first = this.#waiters.values().next().value;
          if (first?.claim !== undefined) await this.#blockThenClaim(first.claim);
          else await this.#block();
          failures = 0;
        } catch (error) {
          if (this.#closed) return;
          this.#onError(error);
          failures += 1;
          // The client reconnects on its own; back off so a dead server is not hammered.
          await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 20 * 2 ** failures)));
          // Work may have arrived while the connection was down: let a waiter look.
          this.#wakeOne();
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #block(): Promise<void> {
    const popped = await this.#blocking.bzpopmin(this.#marker, BLOCK_SECONDS);
    if (popped !== null && popped !== undefined) await this.#passOn();
  }

  async #blockThenClaim(wanted: MarkerClaim): Promise<void> {
    const { popped, reservations } = await this.#claimer.blockThenClaim(this.#blocking, BLOCK_SECONDS, wanted);
    if (reservations.length === 0) {
      if (popped) await this.#passOn();
      return;
    }
    // The waiter claimed for may have stopped waiting meanwhile; another that takes as many
    // jobs under the same lease and holder gets them instead.
    for (const waiter of this.#waiters) {
      const claim = waiter.claim;
      if (
        claim !== undefined &&
        claim.leaseMs === wanted.leaseMs &&
        claim.holder === wanted.holder &&
        claim.groupConcurrency === wanted.groupConcurrency &&
        claim.max >= reservations.length &&
        waiter.deliver !== undefined
      ) {
        this.#waiters.delete(waiter);
        waiter.deliver(reservations);
        return;
      }
    }
    this.#claimer.giveBack(reservations);
  }

  /** Hands a popped marker to a waiter, or back to Redis for other processes when none is left. */
  async #passOn(): Promise<void> {
    if (!this.#wakeOne() && !this.#closed) await this.#commands.zadd(this.#marker, 0, '0');
  }

  #wakeOne(): boolean {
    for (const waiter of this.#waiters) {
      this.#waiters.delete(waiter);
      waiter.wake();
      return true;
    }
    return false;
  }
}
