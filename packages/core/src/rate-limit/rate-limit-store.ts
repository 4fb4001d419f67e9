/** A token bucket: `limit` tokens at most, refilled continuously at `limit` per `intervalMs`. */
export interface RateLimitRule {
  /** Bucket capacity, and tokens added per interval (> 0). */
  readonly limit: number;
  /** The refill interval, in ms (> 0). */
  readonly intervalMs: number;
}

/** Outcome of one {@link RateLimitStore.take}. */
export interface RateLimitDecision {
  /** True when a token was taken. */
  readonly granted: boolean;
  /** Tokens left after this call (floored). */
  readonly remaining: number;
  /** When not granted: ms until the next token is available; 0 when granted. */
  readonly retryAfterMs: number;
}

/**
 * Where token buckets live. A shared store (Redis, SQL) makes a limit hold across every worker
 * process; the in-memory store holds it within one process. Clock: the store's own where it has one.
 */
export interface RateLimitStore {
  /** Atomically refills bucket `key` and takes `cost` tokens (default 1) if available. */
  take(key: string, rule: RateLimitRule, cost?: number): Promise<RateLimitDecision>;
  /** Current tokens in bucket `key` without taking any (`rule.limit` for an unknown bucket). */
  peek(key: string, rule: RateLimitRule): Promise<number>;
}
