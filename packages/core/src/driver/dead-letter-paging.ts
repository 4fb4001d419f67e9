import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import type { DeadLetterListOptions } from './queue-driver.js';

/** Entries `DeadLetterStore.list()` returns when no limit is given. */
export const DEFAULT_DEAD_LETTER_LIMIT = 100;

/**
 * The `limit` and `offset` of a `DeadLetterStore.list()` call, defaults applied; throws an
 * InvalidArgumentError naming the driver and the option unless each is an integer >= 0.
 */
export function deadLetterPaging(driver: string, options: DeadLetterListOptions): { limit: number; offset: number } {
  const limit = options.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
  const offset = options.offset ?? 0;
  for (const [key, value] of [
    ['limit', limit],
    ['offset', offset],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new InvalidArgumentError(`${driver}: deadLetters.list: ${key} must be an integer >= 0, got ${value}`);
    }
  }
  return { limit, offset };
}
