import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';

/**
 * Checks a claim's `groupConcurrency` (see ReserveOptions.groupConcurrency) for a driver with
 * `capabilities.groups`: undefined (the claim ignores groups) or an integer >= 1; returns it.
 * InvalidArgumentError naming the driver otherwise.
 */
export function checkGroupConcurrency(driver: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${driver}: groupConcurrency: expected an integer >= 1, got ${quoteInput(value)}`);
  }
  return value;
}
