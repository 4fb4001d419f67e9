import { ConfigError, quoteInput } from '@queuekit/core';

/**
 * The only identifiers SQL is ever built from: lower-case letters, digits and `_`, starting with a
 * letter or `_`. Anything else (quotes, dots, spaces, upper case, semicolons) is refused.
 */
export const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]*$/;

/**
 * Returns `value` when it matches {@link IDENTIFIER_PATTERN} and is at most `maxLength` characters
 * (empty allowed only when `allowEmpty`); otherwise throws a ConfigError naming the option key.
 */
export function validateIdentifier(dialect: string, key: string, value: unknown, maxLength: number, allowEmpty = false): string {
  if (typeof value === 'string' && value.length <= maxLength && (IDENTIFIER_PATTERN.test(value) || (allowEmpty && value === ''))) {
    return value;
  }
  throw new ConfigError(
    `${dialect}: options.${key}: expected ${allowEmpty ? 'an empty string or ' : ''}1-${maxLength} characters of a-z, 0-9 and _ ` +
      `(not starting with a digit), got ${quoteInput(value)}`,
  );
}

/** Double-quotes an identifier that already passed {@link validateIdentifier}. */
export function quoteIdentifier(validated: string): string {
  if (!IDENTIFIER_PATTERN.test(validated)) throw new ConfigError(`refusing to quote an unvalidated identifier ${quoteInput(validated)}`);
  return `"${validated}"`;
}
