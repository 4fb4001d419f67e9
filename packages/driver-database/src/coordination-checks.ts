import { InvalidArgumentError } from '@queuekit/core';

/** Throws unless `value` is a coordination key (or owner) of 1-200 characters. */
export function assertCoordinationKey(dialect: string, value: unknown, what = 'key'): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.length > 200) {
    throw new InvalidArgumentError(`${dialect}: a coordination ${what} must be a string of 1-200 characters`);
  }
}

/** Throws unless `value` is a duration in ms > 0. */
export function assertCoordinationMs(dialect: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`${dialect}: coordination ${name} must be a number > 0, got ${String(value)}`);
  }
}
