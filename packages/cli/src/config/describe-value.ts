import { quoteInput } from '@queuekit/core';

/** A short rendering of a config value for error messages: `"mysql"`, `42`, `an array`, `a function`; long strings cut. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return quoteInput(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `an object`;
}
