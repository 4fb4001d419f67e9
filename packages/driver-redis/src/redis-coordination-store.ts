import { type CoordinationStore, InvalidArgumentError } from '@queuekit/core';
import type { Cluster, Redis } from 'ioredis';
import { runScript, scripts } from './lua-scripts.js';
import { wrapRedisError } from './redis-errors.js';
import { coordinationKey } from './redis-keys.js';

/**
 * Counters and leased keys in Redis for job middleware (circuit breakers, overlap locks), shared
 * by every worker process on the same server: each step is one Lua call on one key, expiry by
 * Redis itself (its clock). Each key is its own Cluster hash tag. Create it with
 * `driver.createCoordinationStore()`; it uses the driver's connection.
 */
export class RedisCoordinationStore implements CoordinationStore {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;

  /** Internal: use `RedisDriver.createCoordinationStore()`. */
  constructor(client: Redis | Cluster, keyPrefix: string) {
    this.#client = client;
    this.#prefix = keyPrefix;
  }

  async increment(key: string, windowMs: number): Promise<number> {
    assertMs('windowMs', windowMs);
    return (await this.#script(key, ['incr', Math.ceil(windowMs)], 'increment')) as number;
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<boolean> {
    assertMs('ttlMs', ttlMs);
    if (typeof owner !== 'string' || owner === '')
      throw new InvalidArgumentError('redis: coordination lease owner must be a non-empty string');
    return (await this.#script(key, ['acquire', owner, Math.ceil(ttlMs)], 'acquire')) === 1;
  }

  async release(key: string, owner: string): Promise<boolean> {
    return (await this.#script(key, ['release', owner], 'release')) === 1;
  }

  async remainingMs(key: string): Promise<number> {
    const ttl = await this.#call('remainingMs', () => this.#client.pttl(this.#key(key)));
    return Math.max(ttl, 0);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#call('delete', () => this.#client.del(this.#key(key)))) > 0;
  }

  #key(key: string): string {
    if (typeof key !== 'string' || key === '' || key.length > 200 || /[{}]/.test(key)) {
      throw new InvalidArgumentError('redis: a coordination key must be 1-200 characters without { or }');
    }
    return coordinationKey(this.#prefix, key);
  }

  #script(key: string, args: (string | number)[], action: string): Promise<unknown> {
    const redisKey = this.#key(key);
    return this.#call(action, () => runScript(this.#client, scripts.coordination, [redisKey], args));
  }

  async #call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw wrapRedisError(error, `coordination.${action}`);
    }
  }
}

function assertMs(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0))
    throw new InvalidArgumentError(`redis: coordination ${name} must be a number > 0, got ${value}`);
}
