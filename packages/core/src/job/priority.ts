import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';

/**
 * Named priorities. On every driver a LOWER number runs FIRST (like `nice` and beanstalkd):
 * HIGH (10) before MEDIUM (20, the default) before LOW (30). Any integer 0…1,000,000 is allowed.
 */
export const Priority = Object.freeze({ HIGH: 10, MEDIUM: 20, LOW: 30 } as const);

/** A named priority or a number (lower first). */
export type PriorityInput = keyof typeof Priority | number;

/** Highest number accepted as a priority. */
export const MAX_PRIORITY = 1_000_000;

/** Resolves a named or numeric priority; throws InvalidArgumentError outside 0…MAX_PRIORITY. */
export function resolvePriority(input: PriorityInput): number {
  const value = typeof input === 'number' ? input : Priority[input];
  if (value === undefined || !Number.isInteger(value) || value < 0 || value > MAX_PRIORITY) {
    throw new InvalidArgumentError(`priority: expected HIGH, MEDIUM, LOW or an integer 0..${MAX_PRIORITY}, got ${quoteInput(input)}`);
  }
  return value;
}
