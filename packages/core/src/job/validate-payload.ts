import type { StandardSchemaV1 } from '@standard-schema/spec';
import { InvalidPayloadError, type PayloadIssue } from '../errors/invalid-payload-error.js';

/** The most issues named in an error message (all are kept in `issues`). */
const ISSUES_IN_MESSAGE = 5;

/**
 * Checks `value` against a Standard Schema (zod, valibot, arktype …): resolves (or returns, when
 * the schema is synchronous) the schema's output, or throws an {@link InvalidPayloadError} naming
 * each failing path. `where` starts the message (`job send-mail: payload`).
 */
export function validatePayload<TOutput>(
  schema: StandardSchemaV1<unknown, TOutput>,
  value: unknown,
  where: string,
): TOutput | Promise<TOutput> {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) return result.then((settled) => unwrap(settled, where));
  return unwrap(result, where);
}

function unwrap<TOutput>(result: StandardSchemaV1.Result<TOutput>, where: string): TOutput {
  if (result.issues === undefined) return result.value;
  const issues: PayloadIssue[] = result.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  const listed = issues
    .slice(0, ISSUES_IN_MESSAGE)
    .map((issue) => `${issue.path === '' ? '(the payload itself)' : issue.path}: ${issue.message}`)
    .join('; ');
  const more = issues.length > ISSUES_IN_MESSAGE ? `; and ${issues.length - ISSUES_IN_MESSAGE} more` : '';
  throw new InvalidPayloadError(`${where} is invalid: ${listed}${more}`, issues);
}

/** `user.emails[0]` from a Standard Schema path. */
function formatPath(path: StandardSchemaV1.Issue['path']): string {
  let text = '';
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}
