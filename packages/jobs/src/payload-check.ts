import type { StandardSchemaV1 } from '@standard-schema/spec';

/** One problem found in a payload: a path (keys and indexes) and a message. */
export interface CheckIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * A Standard Schema made from a check function (no validator library needed): `check` returns the
 * issues of `value`, none when it is valid. Used as a built-in job's `schema`, so a bad payload is
 * refused at dispatch and dead-lettered as `invalid-payload` at run time.
 */
export function payloadSchema<T>(check: (value: unknown) => CheckIssue[]): StandardSchemaV1<T, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'queuekit',
      validate: (value) => {
        const issues = check(value);
        return issues.length === 0 ? { value: value as T } : { issues };
      },
    },
  };
}

/** True for a plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Issues of an optional `Record<string, string>` field. */
export function stringRecordIssues(value: unknown, key: string): CheckIssue[] {
  if (value === undefined) return [];
  if (!isRecord(value)) return [{ path: [key], message: 'expected an object of strings' }];
  return Object.entries(value)
    .filter(([, item]) => typeof item !== 'string')
    .map(([name]) => ({ path: [key, name], message: 'expected a string' }));
}
