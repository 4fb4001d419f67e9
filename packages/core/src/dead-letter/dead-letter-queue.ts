import type { DeadLetterEntry, DeadLetterFilter, DeadLetterListOptions, QueueDriver } from '../driver/queue-driver.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';

/** A filter with a relative age: entries whose last failure is older than `olderThanMs`. */
export interface DeadLetterQuery extends DeadLetterFilter {
  readonly olderThanMs?: number;
}

/**
 * Failed jobs with their error, stack, attempts and failure times, over the driver's dead-letter
 * store (native where the backend has one): list, inspect, retry one/all/by queue, purge, count.
 */
export class DeadLetterQueue {
  readonly #driver: QueueDriver;

  constructor(driver: QueueDriver) {
    this.#driver = driver;
  }

  /** Entries, most recently failed first (default 100 at a time). */
  list(options: DeadLetterListOptions & { olderThanMs?: number } = {}): Promise<DeadLetterEntry[]> {
    const { olderThanMs, ...rest } = options;
    return this.#driver.deadLetters.list({ ...rest, ...toFilter({ ...(olderThanMs === undefined ? {} : { olderThanMs }) }) });
  }

  /** One entry by job id, or undefined. */
  get(id: string): Promise<DeadLetterEntry | undefined> {
    return this.#driver.deadLetters.get(id);
  }

  /** Puts one entry back on its queue as a fresh job; false when there is no such entry. */
  retry(id: string): Promise<boolean> {
    return this.#driver.deadLetters.retry(id);
  }

  /** Puts every matching entry back on its queue; returns how many. */
  retryAll(query: DeadLetterQuery = {}): Promise<number> {
    return this.#driver.deadLetters.retryAll(toFilter(query));
  }

  /** Deletes matching entries; returns how many. */
  purge(query: DeadLetterQuery = {}): Promise<number> {
    return this.#driver.deadLetters.purge(toFilter(query));
  }

  /** Deletes the entries with these ids (at most 1,000); returns how many it deleted. */
  purgeIds(ids: readonly string[]): Promise<number> {
    return this.#driver.deadLetters.purgeIds(ids);
  }

  /** How many entries match. */
  count(query: DeadLetterQuery = {}): Promise<number> {
    return this.#driver.deadLetters.count(toFilter(query));
  }
}

function toFilter(query: DeadLetterQuery): DeadLetterFilter {
  const { olderThanMs, ...filter } = query;
  if (olderThanMs === undefined) return filter;
  if (!(Number.isFinite(olderThanMs) && olderThanMs >= 0))
    throw new InvalidArgumentError(`olderThanMs: expected ms >= 0, got ${olderThanMs}`);
  const cutoff = Date.now() - olderThanMs;
  return { ...filter, failedBefore: Math.min(cutoff, filter.failedBefore ?? cutoff) };
}
