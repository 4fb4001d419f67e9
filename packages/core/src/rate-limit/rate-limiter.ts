import { ConfigError } from '../errors/config-error.js';
import type { RateLimitRule, RateLimitStore } from './rate-limit-store.js';

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Where buckets live; a backend-backed store makes the limit hold across worker processes. */
  readonly store: RateLimitStore;
  /** A token bucket per queue name; queues without a rule are not limited. */
  readonly queues: Readonly<Record<string, RateLimitRule>>;
}

/**
 * Token buckets per queue, and per group key within a queue (e.g. a tenant), over a store. A worker
 * asks {@link RateLimiter.openQueues} before reserving — which only looks, so an empty poll spends
 * nothing — and {@link RateLimiter.acquire} once it holds a job, waiting for the next token.
 */
export class RateLimiter {
  readonly #store: RateLimitStore;
  readonly #rules: Readonly<Record<string, RateLimitRule>>;

  constructor(options: RateLimiterOptions) {
    for (const [queue, rule] of Object.entries(options.queues)) {
      if (!(Number.isFinite(rule.limit) && rule.limit > 0))
        throw new ConfigError(`rate limit of queue ${queue}: limit must be a number > 0, got ${rule.limit}`);
      if (!(Number.isFinite(rule.intervalMs) && rule.intervalMs > 0)) {
        throw new ConfigError(`rate limit of queue ${queue}: intervalMs must be a number > 0, got ${rule.intervalMs}`);
      }
    }
    this.#store = options.store;
    this.#rules = options.queues;
  }

  /** The rule of `queue`, or undefined when it is not limited. */
  rule(queue: string): RateLimitRule | undefined {
    return this.#rules[queue];
  }

  /**
   * The queues (in the given order) that have a token now, and when none has, the ms until the
   * soonest one refills. Takes nothing.
   */
  async openQueues(queues: readonly string[]): Promise<{ readonly open: string[]; readonly retryAfterMs: number }> {
    const open: string[] = [];
    let retryAfterMs = Number.POSITIVE_INFINITY;
    for (const queue of queues) {
      const rule = this.#rules[queue];
      if (rule === undefined || (await this.#store.peek(queue, rule)) >= 1) open.push(queue);
      else retryAfterMs = Math.min(retryAfterMs, Math.ceil(rule.intervalMs / rule.limit));
    }
    return { open, retryAfterMs: open.length > 0 ? 0 : retryAfterMs };
  }

  /**
   * Takes a token of `queue` (and of `queue:group` when a group is given), waiting while a bucket
   * is empty. Resolves true once taken, false when `signal` aborted first.
   */
  async acquire(queue: string, group?: string, signal?: AbortSignal): Promise<boolean> {
    const rule = this.#rules[queue];
    if (rule === undefined) return true;
    const keys = group === undefined ? [queue] : [queue, `${queue}:${group}`];
    for (const key of keys) {
      for (;;) {
        const decision = await this.#store.take(key, rule);
        if (decision.granted) break;
        if (!(await sleep(decision.retryAfterMs, signal))) return false;
      }
    }
    return true;
  }

  /** Tokens left in the bucket of `queue` (its limit when unlimited buckets are unknown); undefined when not limited. */
  async remaining(queue: string): Promise<number | undefined> {
    const rule = this.#rules[queue];
    return rule === undefined ? undefined : this.#store.peek(queue, rule);
  }
}

/** Sleeps `ms`; resolves false early if `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
