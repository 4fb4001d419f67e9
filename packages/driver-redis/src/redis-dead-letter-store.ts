import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterListOptions,
  type DeadLetterReason,
  type DeadLetterStore,
  DriverError,
  type ErrorInfo,
  InvalidArgumentError,
  isValidQueueName,
  type JobEnvelope,
  quoteInput,
} from '@queuekit/core';
import { deadLetterIds, deadLetterPaging, fromBackend } from '@queuekit/core/driver';
import type { Cluster, Redis } from 'ioredis';
import { runScript, scripts } from './lua-scripts.js';
import { type QueueKeys, registryKey } from './redis-keys.js';

/** What the store needs from its driver. */
export interface RedisDeadLetterContext {
  readonly client: Redis | Cluster;
  readonly keyPrefix: string;
  keysOf(queue: string): QueueKeys;
  run<T>(action: string, fn: () => Promise<T>): Promise<T>;
}

/** The failure record kept beside each dead body. */
interface FailureRecord {
  readonly reason: DeadLetterReason;
  readonly error: ErrorInfo;
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly failedAt: number;
}

/** Dead-letter scores are failedAt * 1024 + (sequence mod 1024); this is the multiplier. */
const SCORE_SCALE = 1024;

/** Ids handled per round trip by retryAll. */
const BATCH = 500;

/**
 * Dead letters in Redis, per queue (so each queue's keys stay in its Cluster slot): a zset by
 * failure time plus hashes of failure records and bodies. Queue-less calls read the registry of
 * queues the driver has used under its prefix and merge.
 */
export class RedisDeadLetterStore implements DeadLetterStore {
  readonly #ctx: RedisDeadLetterContext;

  constructor(context: RedisDeadLetterContext) {
    this.#ctx = context;
  }

  async list(options: DeadLetterListOptions = {}): Promise<DeadLetterEntry[]> {
    const { limit, offset } = deadLetterPaging('redis', options);
    return this.#ctx.run('deadLetters.list', async () => {
      if (limit === 0) return [];
      const queues = await this.#queues(options);
      const max = upperBound(options);
      const perQueue = await Promise.all(
        queues.map(async (queue) => {
          const flat = await this.#ctx.client.zrevrangebyscore(
            this.#ctx.keysOf(queue).dead,
            max,
            '-inf',
            'WITHSCORES',
            'LIMIT',
            0,
            offset + limit,
          );
          const rows: { queue: string; id: string; score: number }[] = [];
          for (let i = 0; i < flat.length; i += 2) rows.push({ queue, id: flat[i]!, score: Number(flat[i + 1]) });
          return rows;
        }),
      );
      const page = perQueue
        .flat()
        .sort((a, b) => b.score - a.score)
        .slice(offset, offset + limit);
      const entries = await Promise.all(page.map(({ queue, id }) => this.#read(queue, id)));
      return entries.filter((entry): entry is DeadLetterEntry => entry !== undefined);
    });
  }

  async get(id: string): Promise<DeadLetterEntry | undefined> {
    return this.#ctx.run('deadLetters.get', async () => {
      const queue = await this.#find(id);
      return queue === undefined ? undefined : this.#read(queue, id);
    });
  }

  async retry(id: string): Promise<boolean> {
    return this.#ctx.run('deadLetters.retry', async () => {
      const queue = await this.#find(id);
      if (queue === undefined) return false;
      const entry = await this.#read(queue, id);
      if (entry === undefined) return false;
      if (entry.envelope === undefined)
        throw new InvalidArgumentError(`redis: dead letter ${id} has an undecodable body and cannot be retried`);
      return this.#retryIn(queue, id);
    });
  }

  async retryAll(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#ctx.run('deadLetters.retryAll', async () => {
      let retried = 0;
      for (const queue of await this.#queues(filter)) {
        const keys = this.#ctx.keysOf(queue);
        const ids = await this.#ctx.client.zrangebyscore(keys.dead, '-inf', upperBound(filter));
        for (let start = 0; start < ids.length; start += BATCH) {
          const batch = ids.slice(start, start + BATCH);
          const bodies = batch.length === 0 ? [] : await this.#ctx.client.hmget(keys.deadBody, ...batch);
          const outcomes = await Promise.all(
            batch.map((id, index) => {
              const body = bodies[index];
              if (body === null || body === undefined || decode(body) === undefined) return false;
              return this.#retryIn(queue, id);
            }),
          );
          retried += outcomes.filter(Boolean).length;
        }
      }
      return retried;
    });
  }

  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#ctx.run('deadLetters.purge', async () => {
      const counts = await Promise.all(
        (await this.#queues(filter)).map(async (queue) => {
          const keys = this.#ctx.keysOf(queue);
          return Number(
            await runScript(this.#ctx.client, scripts.deadPurge, [keys.dead, keys.deadInfo, keys.deadBody], [upperBound(filter)]),
          );
        }),
      );
      return counts.reduce((sum, count) => sum + count, 0);
    });
  }

  async purgeIds(ids: readonly string[]): Promise<number> {
    const unique = deadLetterIds('redis', ids);
    return this.#ctx.run('deadLetters.purgeIds', async () => {
      if (unique.length === 0) return 0;
      // An id names no queue, so each queue's script deletes what it holds of them.
      const counts = await Promise.all(
        (await this.#queues({})).map(async (queue) => {
          const keys = this.#ctx.keysOf(queue);
          return Number(await runScript(this.#ctx.client, scripts.deadPurgeIds, [keys.dead, keys.deadInfo, keys.deadBody], unique));
        }),
      );
      return counts.reduce((sum, count) => sum + count, 0);
    });
  }

  async count(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#ctx.run('deadLetters.count', async () => {
      const counts = await Promise.all(
        (await this.#queues(filter)).map((queue) => this.#ctx.client.zcount(this.#ctx.keysOf(queue).dead, '-inf', upperBound(filter))),
      );
      return counts.reduce((sum, count) => sum + count, 0);
    });
  }

  async #retryIn(queue: string, id: string): Promise<boolean> {
    const keys = this.#ctx.keysOf(queue);
    const reply = await runScript(
      this.#ctx.client,
      scripts.deadRetry,
      [keys.ready, keys.seq, keys.marker, keys.unique, keys.prios, keys.dead, keys.deadInfo, keys.deadBody],
      [keys.jobPrefix, id],
    );
    if (reply === -2) throw new DriverError(`redis: dead letter ${id} cannot be retried: a job with that id is in queue ${queue}`);
    return reply === 1;
  }

  /** The queues a filter covers: the one it names, or every queue registered under the prefix. */
  async #queues(filter: DeadLetterFilter): Promise<string[]> {
    if (filter.queue !== undefined) {
      if (!isValidQueueName(filter.queue)) throw new InvalidArgumentError(`redis: invalid queue name ${quoteInput(filter.queue)}`);
      return [filter.queue];
    }
    return (await this.#ctx.client.smembers(registryKey(this.#ctx.keyPrefix))).sort();
  }

  /** The queue whose dead letters hold `id`; `undefined` when none does. */
  async #find(id: string): Promise<string | undefined> {
    const queues = await this.#queues({});
    const scores = await Promise.all(queues.map((queue) => this.#ctx.client.zscore(this.#ctx.keysOf(queue).dead, id)));
    const index = scores.findIndex((score) => score !== null);
    return index === -1 ? undefined : queues[index];
  }

  async #read(queue: string, id: string): Promise<DeadLetterEntry | undefined> {
    const keys = this.#ctx.keysOf(queue);
    const [info, body] = await Promise.all([this.#ctx.client.hget(keys.deadInfo, id), this.#ctx.client.hget(keys.deadBody, id)]);
    if (info === null) return undefined;
    const record = JSON.parse(info) as FailureRecord;
    const envelope = body === null ? undefined : decode(body);
    return {
      id,
      queue,
      name: envelope?.name,
      envelope,
      ...(envelope === undefined ? { raw: body ?? '' } : {}),
      reason: record.reason,
      error: record.error,
      attempts: record.attempts,
      firstFailedAt: record.firstFailedAt,
      failedAt: record.failedAt,
    };
  }
}

function decode(body: string): JobEnvelope | undefined {
  try {
    return fromBackend(body);
  } catch {
    return undefined;
  }
}

/** The zset upper bound for `failedBefore` (exclusive), or everything. */
function upperBound(filter: DeadLetterFilter): string {
  return filter.failedBefore === undefined ? '+inf' : `(${Math.ceil(filter.failedBefore) * SCORE_SCALE}`;
}
