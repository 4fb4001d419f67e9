import {
  DriverClosedError,
  InvalidArgumentError,
  quoteInput,
  type RateLimitDecision,
  type RateLimitRule,
  type RateLimitStore,
} from '@queuekit/core';
import type { Cluster, Redis } from 'ioredis';
import { runScript, scripts } from './lua-scripts.js';
import { wrapRedisError } from './redis-errors.js';
import { rateLimitKey } from './redis-keys.js';
import { openConnection, type RedisDriverOptions, resolveRedisOptions } from './redis-options.js';

/** Options of {@link RedisRateLimitStore}: the driver's connection options (`maxMessageBytes` unused). */
export type RedisRateLimitStoreOptions = Pick<RedisDriverOptions, 'connection' | 'cluster' | 'keyPrefix' | 'connectionName'>;

/**
 * Token buckets in Redis, refilled from Redis TIME inside one Lua script, so every worker process
 * (on any clock) draws from the same bucket. Each bucket key is its own Cluster hash tag.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #client: Redis | Cluster;
  readonly #owned: boolean;
  readonly #prefix: string;
  #closed = false;

  constructor(options: RedisRateLimitStoreOptions = {}) {
    const resolved = resolveRedisOptions(options);
    const { client, owned } = openConnection(options, resolved);
    this.#client = client;
    this.#owned = owned;
    this.#prefix = resolved.keyPrefix;
    if (owned) client.on('error', () => {});
  }

  async take(key: string, rule: RateLimitRule, cost = 1): Promise<RateLimitDecision> {
    if (!(Number.isFinite(cost) && cost > 0)) throw new InvalidArgumentError(`redis: rate limit cost must be > 0, got ${cost}`);
    const [granted, remaining, retryAfterMs] = (await this.#eval(key, rule, cost)) as [number, number, number];
    return { granted: granted === 1, remaining, retryAfterMs };
  }

  async peek(key: string, rule: RateLimitRule): Promise<number> {
    const [, remaining] = (await this.#eval(key, rule, 0)) as [number, number, number];
    return remaining;
  }

  /** Closes the connection if the store created it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async #eval(key: string, rule: RateLimitRule, cost: number): Promise<unknown> {
    if (this.#closed) throw new DriverClosedError('redis: the rate limit store is closed');
    if (typeof key !== 'string' || key === '' || key.length > 200)
      throw new InvalidArgumentError('redis: rate limit key must be 1-200 characters');
    if (!(rule.limit > 0) || !(rule.intervalMs > 0)) {
      throw new InvalidArgumentError(`redis: rate limit rule needs limit > 0 and intervalMs > 0, got ${quoteInput(rule)}`);
    }
    try {
      return await runScript(this.#client, scripts.rateLimit, [rateLimitKey(this.#prefix, key)], [rule.limit, rule.intervalMs, cost]);
    } catch (error) {
      throw wrapRedisError(error, 'rateLimit');
    }
  }
}
