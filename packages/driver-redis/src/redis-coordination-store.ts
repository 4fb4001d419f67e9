import { type CoordinationStore, InvalidArgumentError, type ScheduleLedgerEntry } from '@queuekit/core';
import type { Cluster, Redis } from 'ioredis';
import { runScript, scripts } from './lua-scripts.js';
import { wrapRedisError } from './redis-errors.js';
import { coordinationKey, scheduleLedgerKey } from './redis-keys.js';

/**
 * Counters and leased keys in Redis for job middleware (circuit breakers, overlap locks), and the
 * schedule ledger (a hash per schedule), shared by every process on the same server: each step is
 * one Lua call on one key, expiry and times by Redis itself (its clock, `TIME`). Each key is its
 * own Cluster hash tag. Create it with
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

  async now(): Promise<number> {
    const [seconds, micros] = await this.#call('now', () => this.#client.time());
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async recordTick(schedule: string, tickAt: number, jobId: string): Promise<boolean> {
    if (!Number.isSafeInteger(tickAt)) throw new InvalidArgumentError(`redis: a schedule tick must be an integer epoch ms, got ${tickAt}`);
    assertJobId(jobId);
    const key = this.#scheduleKey(schedule);
    return (await this.#call('recordTick', () => runScript(this.#client, scripts.scheduleLedger, [key], ['tick', tickAt, jobId]))) === 1;
  }

  async recordManualRun(schedule: string, jobId: string): Promise<void> {
    assertJobId(jobId);
    const key = this.#scheduleKey(schedule);
    await this.#call('recordManualRun', () => runScript(this.#client, scripts.scheduleLedger, [key], ['run', jobId]));
  }

  async scheduleEntry(schedule: string): Promise<ScheduleLedgerEntry | undefined> {
    const key = this.#scheduleKey(schedule);
    const [tick, tickJob, tickAt, runJob, runAt] = await this.#call('scheduleEntry', () =>
      this.#client.hmget(key, 'tick', 'tick_job', 'tick_at', 'run_job', 'run_at'),
    );
    if (tick === null && runJob === null) return undefined;
    return {
      lastTickAt: optionalNumber(tick),
      lastTickJobId: tickJob ?? undefined,
      lastTickRecordedAt: optionalNumber(tickAt),
      lastRunJobId: runJob ?? undefined,
      lastRunAt: optionalNumber(runAt),
    };
  }

  #scheduleKey(schedule: string): string {
    if (typeof schedule !== 'string' || schedule === '' || schedule.length > 200 || /[{}]/.test(schedule)) {
      throw new InvalidArgumentError('redis: a schedule name must be 1-200 characters without { or }');
    }
    return scheduleLedgerKey(this.#prefix, schedule);
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

function assertJobId(jobId: string): void {
  if (typeof jobId !== 'string' || jobId === '')
    throw new InvalidArgumentError('redis: a schedule ledger job id must be a non-empty string');
}

function optionalNumber(value: string | null | undefined): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}
