import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';
import { isValidQueueName } from './default-capabilities.js';
import { JOB_STATES, type JobListOptions } from './job-info.js';
import type { DeadLetterListOptions } from './queue-driver.js';

/** Entries `DeadLetterStore.list()` returns when no limit is given. */
export const DEFAULT_DEAD_LETTER_LIMIT = 100;
/** Jobs `listJobs()` returns when no limit is given, and at most. */
export const DEFAULT_JOB_LIST_LIMIT = 50;
export const MAX_JOB_LIST_LIMIT = 1000;
/** Ids one `DeadLetterStore.purgeIds()` call takes at most. */
export const MAX_DEAD_LETTER_IDS = 1000;

/**
 * The ids of a `DeadLetterStore.purgeIds()` call, without duplicates; throws an InvalidArgumentError
 * naming the driver unless `ids` is an array of at most 1,000 non-empty strings.
 */
export function deadLetterIds(driver: string, ids: readonly string[]): string[] {
  if (!Array.isArray(ids)) throw new InvalidArgumentError(`${driver}: deadLetters.purgeIds: ids must be an array, got ${quoteInput(ids)}`);
  if (ids.length > MAX_DEAD_LETTER_IDS)
    throw new InvalidArgumentError(`${driver}: deadLetters.purgeIds: at most ${MAX_DEAD_LETTER_IDS} ids per call, got ${ids.length}`);
  for (const id of ids) {
    if (typeof id !== 'string' || id === '')
      throw new InvalidArgumentError(`${driver}: deadLetters.purgeIds: every id must be a non-empty string, got ${quoteInput(id)}`);
  }
  return [...new Set(ids)];
}

/**
 * The `limit` and `offset` of a `DeadLetterStore.list()` call, defaults applied; throws an
 * InvalidArgumentError naming the driver and the option unless each is an integer >= 0.
 */
export function deadLetterPaging(driver: string, options: DeadLetterListOptions): { limit: number; offset: number } {
  return paging(`${driver}: deadLetters.list`, options.limit ?? DEFAULT_DEAD_LETTER_LIMIT, options.offset ?? 0);
}

/**
 * The checked options of a `listJobs()` call, defaults applied: a valid queue, a state a driver
 * lists (`failed` jobs are the dead-letter store's), limit 0…1,000 (default 50) and offset >= 0.
 * Throws an InvalidArgumentError naming the driver and the option.
 */
export function jobListPaging(driver: string, options: JobListOptions): Required<JobListOptions> {
  if (typeof options.queue !== 'string' || !isValidQueueName(options.queue)) {
    throw new InvalidArgumentError(`${driver}: listJobs: invalid queue name ${quoteInput(options.queue)}`);
  }
  if (!JOB_STATES.includes(options.state) || (options.state as string) === 'failed') {
    throw new InvalidArgumentError(
      `${driver}: listJobs: state must be one of waiting, delayed, active, completed, cancelled, got ${quoteInput(options.state)}`,
    );
  }
  const { limit, offset } = paging(`${driver}: listJobs`, options.limit ?? DEFAULT_JOB_LIST_LIMIT, options.offset ?? 0);
  if (limit > MAX_JOB_LIST_LIMIT)
    throw new InvalidArgumentError(`${driver}: listJobs: limit must be at most ${MAX_JOB_LIST_LIMIT}, got ${limit}`);
  return { queue: options.queue, state: options.state, limit, offset };
}

function paging(what: string, limit: number, offset: number): { limit: number; offset: number } {
  for (const [key, value] of [
    ['limit', limit],
    ['offset', offset],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`${what}: ${key} must be an integer >= 0, got ${value}`);
  }
  return { limit, offset };
}
