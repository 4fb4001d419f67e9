import type { RateLimitDecision, RateLimitRule, RateLimitStore } from './rate-limit-store.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Token buckets in this process's memory: for tests, the sync driver and single-process workers. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async take(key: string, rule: RateLimitRule, cost = 1): Promise<RateLimitDecision> {
    const bucket = this.#refill(key, rule);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { granted: true, remaining: Math.floor(bucket.tokens), retryAfterMs: 0 };
    }
    const missing = cost - bucket.tokens;
    return { granted: false, remaining: Math.floor(bucket.tokens), retryAfterMs: Math.ceil((missing * rule.intervalMs) / rule.limit) };
  }

  async peek(key: string, rule: RateLimitRule): Promise<number> {
    return Math.floor(this.#refill(key, rule).tokens);
  }

  #refill(key: string, rule: RateLimitRule): Bucket {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: rule.limit, updatedAt: now };
      this.#buckets.set(key, bucket);
    }
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(rule.limit, bucket.tokens + (elapsed * rule.limit) / rule.intervalMs);
    bucket.updatedAt = now;
    return bucket;
  }
}
