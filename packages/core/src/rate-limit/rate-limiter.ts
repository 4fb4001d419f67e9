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
}

/** Outcome of {@link RateLimiter.tryAcquire}. */
export interface GroupedRateLimitDecision {
  /** True when every bucket the job is charged to had a token (and one was taken from each). */
  readonly granted: boolean;
  /** The bucket that was empty: its group's or the queue-wide one; undefined when granted. */
  readonly limitedBy: 'group' | 'queue' | undefined;
  /** Ms until the empty bucket has a token; 0 when granted. */
  readonly retryAfterMs: number;
}

const GRANTED: GroupedRateLimitDecision = { granted: true, limitedBy: undefined, retryAfterMs: 0 };

/**
 * Token buckets per queue, and per group key within a queue (e.g. a tenant), over a store. A
 * group's bucket and the queue-wide bucket are separate, each with its own rule: a group that
 * runs out waits on its own bucket without spending the queue's tokens, so one busy group cannot
 * take the other groups' share. A worker asks {@link RateLimiter.openQueues} before reserving —
 * which only looks, so an empty poll spends nothing — and {@link RateLimiter.tryAcquire} or
 * {@link RateLimiter.acquire} once it holds a job.
 */
export class RateLimiter {
  readonly #store: RateLimitStore;
  readonly #rules: Readonly<Record<string, RateLimitRule>>;
  readonly #groupRules: Readonly<Record<string, RateLimitRule>>;

  constructor(options: RateLimiterOptions) {
    this.#rules = checkRules(options.queues ?? {}, 'rate limit of queue');
    this.#groupRules = checkRules(options.groups ?? {}, 'group rate limit of queue');
    this.#store = options.store;
  }

  /** The queue-wide rule of `queue`, or undefined when it has none. */
  rule(queue: string): RateLimitRule | undefined {
    return this.#rules[queue];
  }

  /** The rule each group of `queue` gets, or undefined when its groups are not limited. */
  groupRule(queue: string): RateLimitRule | undefined {
    return this.#groupRules[queue];
  }

  /**
   * The queues (in the given order) whose queue-wide bucket has a token now, and when none has,
   * the ms until the soonest one refills. Takes nothing.
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
   * Takes a token of the group's bucket (`queue:group`, when `group` is given and the queue has a
   * group rule), then of the queue-wide bucket, without waiting. A group out of tokens takes none
   * from the queue. (When the group's token was taken and the queue's bucket is empty, the group's
   * token is spent: a caller waits on the queue's bucket next.)
   */
  async tryAcquire(queue: string, group?: string): Promise<GroupedRateLimitDecision> {
    const groupRule = group === undefined ? undefined : this.#groupRules[queue];
    if (groupRule !== undefined) {
      const decision = await this.#store.take(`${queue}:${group}`, groupRule);
      if (!decision.granted) return { granted: false, limitedBy: 'group', retryAfterMs: decision.retryAfterMs };
    }
    return this.#takeQueue(queue);
  }

  /**
   * Takes a token of the group's bucket (when grouped) and of the queue-wide bucket, waiting while
   * one is empty. `refused`, a refused decision of {@link RateLimiter.tryAcquire} for the same job,
   * goes on from there (a group token it took is not taken again). Resolves true once taken, false
   * when `signal` aborted first.
   */
  async acquire(queue: string, group?: string, signal?: AbortSignal, refused?: GroupedRateLimitDecision): Promise<boolean> {
    let decision = refused ?? (await this.tryAcquire(queue, group));
    while (!decision.granted) {
      if (!(await sleep(decision.retryAfterMs, signal))) return false;
      decision = decision.limitedBy === 'group' ? await this.tryAcquire(queue, group) : await this.#takeQueue(queue);
    }
    return true;
  }

  /** Tokens left in the queue-wide bucket of `queue`; undefined when it has no queue-wide limit. */
  async remaining(queue: string): Promise<number | undefined> {
    const rule = this.#rules[queue];
    return rule === undefined ? undefined : this.#store.peek(queue, rule);
  }

  async #takeQueue(queue: string): Promise<GroupedRateLimitDecision> {
    const rule = this.#rules[queue];
    if (rule === undefined) return GRANTED;
    const decision = await this.#store.take(queue, rule);
    return decision.granted ? GRANTED : { granted: false, limitedBy: 'queue', retryAfterMs: decision.retryAfterMs };
  }
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
