/**
 * Small shared state for job middleware, kept in the driver's backend so that every worker process
 * on it sees the same: counters that expire, and keys leased to one owner for a time. Every
 * operation is atomic in the backend and uses the backend's clock where it has one. Keys are
 * free-form strings (the store prefixes them with its own namespace).
 */
export interface CoordinationStore {
  /**
   * Adds 1 to counter `key` and resolves its new value. A counter that did not exist (or had
   * expired) starts at 1 and expires `windowMs` after this first increment; later increments do
   * not extend it (a fixed window).
   */
  increment(key: string, windowMs: number): Promise<number>;
  /**
   * Takes lease `key` for `owner` for `ttlMs`: granted when the key is free, expired, or already
   * held by `owner` (then its expiry is renewed). Resolves true when `owner` holds it now.
   */
  acquire(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Frees lease `key` when `owner` holds it; resolves false when someone else (or nobody) held it. */
  release(key: string, owner: string): Promise<boolean>;
  /** Ms until lease `key` expires, 0 when it is free or expired. */
  remainingMs(key: string): Promise<number>;
  /** Deletes counter or lease `key` whatever its state; resolves whether there was one. */
  delete(key: string): Promise<boolean>;
}
