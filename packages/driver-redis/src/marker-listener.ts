import type { Cluster, Redis } from 'ioredis';

/** A reserve() call waiting for work; `wake()` resolves its wait. */
export interface MarkerWaiter {
  wake(): void;
}

/** Seconds one BZPOPMIN blocks before the loop checks whether anyone still waits. */
const BLOCK_SECONDS = 2;

/**
 * Blocks on one queue's marker key with BZPOPMIN on a connection of its own, and hands each popped
 * marker to the longest-waiting reserve() call of this process. Producers set the marker (push,
 * release, retry), and so does a claim that leaves ready jobs behind, so one wake leads to the
 * next while work remains — across processes too, since any blocked connection may pop it. When
 * nobody here waits any more, a popped marker is put back for the other processes.
 */
export class MarkerListener {
  readonly #blocking: Redis | Cluster;
  readonly #commands: Redis | Cluster;
  readonly #marker: string;
  readonly #onError: (error: unknown) => void;
  readonly #waiters = new Set<MarkerWaiter>();
  #running = false;
  #closed = false;

  /**
   * @param blocking a connection used only by this listener, closed by {@link close}
   * @param commands the driver's command connection, used to put a marker back
   */
  constructor(blocking: Redis | Cluster, commands: Redis | Cluster, marker: string, onError: (error: unknown) => void) {
    this.#blocking = blocking;
    this.#commands = commands;
    this.#marker = marker;
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
        let popped: unknown;
        try {
          popped = await this.#blocking.bzpopmin(this.#marker, BLOCK_SECONDS);
          failures = 0;
        } catch (error) {
          if (this.#closed) return;
          this.#onError(error);
          failures += 1;
          // The client reconnects on its own; back off so a dead server is not hammered.
          await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 20 * 2 ** failures)));
          // Work may have arrived while the connection was down: let a waiter look.
          this.#wakeOne();
          continue;
        }
        if (popped === null || popped === undefined) continue;
        if (!this.#wakeOne() && !this.#closed) {
          await this.#commands.zadd(this.#marker, 0, '0').catch(this.#onError);
        }
      }
    } finally {
      this.#running = false;
    }
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
