import { ConfigError } from '../errors/config-error.js';
import type { RateLimitRule, RateLimitStore } from './rate-limit-store.js';

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Where buckets live; a backend-backed store makes the limit hold across worker processes. */
  readonly store: RateLimitStore;
  /** A queue-wide bucket per queue name, shared by every job of the queue whatever its group; default none. */
  readonly queues?: Readonly<Record<string, RateLimitRule>>;
  /**
   * A bucket per group within a queue: each group key (e.g. a tenant) of a queue named here gets
   * a bucket of its own under this rule, apart from the queue-wide one; default none.
   */
  readonly groups?: Readonly<Record<string, RateLimitRule>>;
  /**
   * Named budgets shared by several queues (one `stripe-api` limit for every queue that calls it):
   * each job of a listed queue takes a token of the named bucket too. Every worker that names the
   * limit over a shared store draws from the same bucket, whatever queues it serves; default none.
   */
  readonly limits?: Readonly<Record<string, NamedRateLimit>>;
}

/** A budget shared by the jobs of several queues (see {@link RateLimiterOptions.limits}). */
export interface NamedRateLimit extends RateLimitRule {
  /** The queues whose jobs take from this budget (at least one). */
  readonly queues: readonly string[];
}

/** One bucket a job is charged to: its store key, its rule and which kind it is. */
interface Bucket {
  readonly key: string;
  readonly rule: RateLimitRule;
  readonly kind: 'group' | 'limit' | 'queue';
}

/** Outcome of {@link RateLimiter.tryAcquire}. */
export interface GroupedRateLimitDecision {
  /** True when every bucket the job is charged to had a token (and one was taken from each). */
  readonly granted: boolean;
  /** The bucket that was empty: its group's, a named limit's or the queue-wide one; undefined when granted. */
  readonly limitedBy: 'group' | 'limit' | 'queue' | undefined;
  /** The named limit that was empty, when `limitedBy` is `limit`. */
  readonly limit?: string;
  /** Ms until the empty bucket has a token; 0 when granted. */
  readonly retryAfterMs: number;
}

const GRANTED: GroupedRateLimitDecision = { granted: true, limitedBy: undefined, retryAfterMs: 0 };

/** Store keys of named limits start with a character queue names cannot hold, so none meets a queue's or a group's key. */
const LIMIT_KEY_PREFIX = '@';

/**
 * Token buckets per queue, per group key within a queue (e.g. a tenant) and per named limit shared
 * by several queues, over a store. A group's bucket and the queue-wide bucket are separate, each
 * with its own rule: a group that runs out waits on its own bucket without spending the queue's
 * tokens, so one busy group cannot take the other groups' share. A job is charged in that order:
 * its group, the named limits of its queue, its queue. A worker asks {@link RateLimiter.openQueues} before reserving —
 * which only looks, so an empty poll spends nothing — and {@link RateLimiter.tryAcquire} or
 * {@link RateLimiter.acquire} once it holds a job.
 */
export class RateLimiter {
  readonly #store: RateLimitStore;
  readonly #rules: Readonly<Record<string, RateLimitRule>>;
  readonly #groupRules: Readonly<Record<string, RateLimitRule>>;
  /** Per queue, the named-limit buckets its jobs are charged to (with its queue-wide bucket last). */
  readonly #shared = new Map<string, Bucket[]>();

  constructor(options: RateLimiterOptions) {
    this.#rules = checkRules(options.queues ?? {}, 'rate limit of queue');
    this.#groupRules = checkRules(options.groups ?? {}, 'group rate limit of queue');
    this.#store = options.store;
    for (const [name, limit] of Object.entries(options.limits ?? {})) {
      if (name === '' || name.length > 100)
        throw new ConfigError(`rate limit name: expected 1-100 characters, got ${JSON.stringify(name)}`);
      checkRules({ [name]: limit }, 'named rate limit');
      if (!Array.isArray(limit.queues) || limit.queues.length === 0 || !limit.queues.every((q) => typeof q === 'string' && q !== '')) {
        throw new ConfigError(`named rate limit ${name}: queues must list at least one queue name`);
      }
      const bucket: Bucket = { key: LIMIT_KEY_PREFIX + name, rule: { limit: limit.limit, intervalMs: limit.intervalMs }, kind: 'limit' };
      for (const queue of new Set(limit.queues)) {
        const buckets = this.#shared.get(queue) ?? [];
        buckets.push(bucket);
        this.#shared.set(queue, buckets);
      }
    }
  }

  /** The queue-wide rule of `queue`, or undefined when it has none. */
  rule(queue: string): RateLimitRule | undefined {
    return this.#rules[queue];
  }

  /** The rule each group of `queue` gets, or undefined when its groups are not limited. */
  groupRule(queue: string): RateLimitRule | undefined {
    return this.#groupRules[queue];
  }

  /** The named limits `queue`'s jobs are charged to. */
  limitsOf(queue: string): string[] {
    return (this.#shared.get(queue) ?? []).map((bucket) => bucket.key.slice(LIMIT_KEY_PREFIX.length));
  }

  /**
   * The queues (in the given order) whose queue-wide bucket and named limits all have a token now,
   * and when none has, the ms until the soonest one refills. Takes nothing.
   */
  async openQueues(queues: readonly string[]): Promise<{ readonly open: string[]; readonly retryAfterMs: number }> {
    const open: string[] = [];
    let retryAfterMs = Number.POSITIVE_INFINITY;
    for (const queue of queues) {
      let closedFor: number | undefined;
      for (const bucket of this.#buckets(queue, undefined)) {
        if ((await this.#store.peek(bucket.key, bucket.rule)) < 1) {
          closedFor = Math.ceil(bucket.rule.intervalMs / bucket.rule.limit);
          break;
        }
      }
      if (closedFor === undefined) open.push(queue);
      else retryAfterMs = Math.min(retryAfterMs, closedFor);
    }
    return { open, retryAfterMs: open.length > 0 ? 0 : retryAfterMs };
  }

  /**
   * Takes a token of each bucket the job is charged to, without waiting: its group's
   * (`queue:group`, when `group` is given and the queue has a group rule), then each named limit
   * of its queue, then the queue-wide one. It stops at the first empty bucket: a group out of
   * tokens takes none from the others. (Tokens taken before an empty bucket further on are spent:
   * a caller waits on that bucket next, see {@link RateLimiter.acquire}.)
   */
  tryAcquire(queue: string, group?: string): Promise<GroupedRateLimitDecision> {
    return this.#take(this.#buckets(queue, group), 0);
  }

  /**
   * Takes a token of every bucket the job is charged to, waiting while one is empty. `refused`, a
   * refused decision of {@link RateLimiter.tryAcquire} for the same job, goes on from there (tokens
   * it took are not taken again; a group that was empty is asked again from the start). Resolves
   * true once taken, false when `signal` aborted first.
   */
  async acquire(queue: string, group?: string, signal?: AbortSignal, refused?: GroupedRateLimitDecision): Promise<boolean> {
    const buckets = this.#buckets(queue, group);
    let decision = refused ?? (await this.#take(buckets, 0));
    while (!decision.granted) {
      if (!(await sleep(decision.retryAfterMs, signal))) return false;
      decision = await this.#take(buckets, resumeAt(buckets, decision));
    }
    return true;
  }

  /** Tokens left in the queue-wide bucket of `queue`; undefined when it has no queue-wide limit. */
  async remaining(queue: string): Promise<number | undefined> {
    const rule = this.#rules[queue];
    return rule === undefined ? undefined : this.#store.peek(queue, rule);
  }

  /** The buckets a job of `queue` (in `group`) is charged to, in the order they are taken. */
  #buckets(queue: string, group: string | undefined): Bucket[] {
    const buckets: Bucket[] = [];
    const groupRule = group === undefined ? undefined : this.#groupRules[queue];
    if (groupRule !== undefined) buckets.push({ key: `${queue}:${group}`, rule: groupRule, kind: 'group' });
    const shared = this.#shared.get(queue);
    if (shared !== undefined) buckets.push(...shared);
    const rule = this.#rules[queue];
    if (rule !== undefined) buckets.push({ key: queue, rule, kind: 'queue' });
    return buckets;
  }

  async #take(buckets: readonly Bucket[], from: number): Promise<GroupedRateLimitDecision> {
    for (let index = from; index < buckets.length; index += 1) {
      const bucket = buckets[index] as Bucket;
      const decision = await this.#store.take(bucket.key, bucket.rule);
      if (!decision.granted) {
        return {
          granted: false,
          limitedBy: bucket.kind,
          ...(bucket.kind === 'limit' ? { limit: bucket.key.slice(LIMIT_KEY_PREFIX.length) } : {}),
          retryAfterMs: decision.retryAfterMs,
        };
      }
    }
    return GRANTED;
  }
}

/** Where a refused charge goes on: from the start when its group was empty, else from the bucket that was. */
function resumeAt(buckets: readonly Bucket[], refused: GroupedRateLimitDecision): number {
  if (refused.limitedBy === 'group') return 0;
  const index = buckets.findIndex((bucket) =>
    refused.limitedBy === 'limit' ? bucket.key === LIMIT_KEY_PREFIX + refused.limit : bucket.kind === refused.limitedBy,
  );
  return Math.max(0, index);
}

function checkRules(rules: Readonly<Record<string, RateLimitRule>>, what: string): Readonly<Record<string, RateLimitRule>> {
  for (const [queue, rule] of Object.entries(rules)) {
    if (!(Number.isFinite(rule.limit) && rule.limit > 0))
      throw new ConfigError(`${what} ${queue}: limit must be a number > 0, got ${rule.limit}`);
    if (!(Number.isFinite(rule.intervalMs) && rule.intervalMs > 0)) {
      throw new ConfigError(`${what} ${queue}: intervalMs must be a number > 0, got ${rule.intervalMs}`);
    }
  }
  return rules;
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
