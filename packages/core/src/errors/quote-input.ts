/** How many characters of an input an error message quotes at most. */
export const QUOTE_MAX_CHARS = 80;

/**
 * Renders a value an error message quotes (a queue name, a flag, an option) as JSON, cut to
 * `maxChars` with its full length named, so hostile or accidental huge input cannot flood the
 * message: `"aaaa…"… (10000 characters)`. Values JSON cannot render (BigInt, cycles, functions)
 * are rendered with String().
 */
export function quoteInput(value: unknown, maxChars: number = QUOTE_MAX_CHARS): string {
  if (typeof value === 'string') {
    return value.length <= maxChars ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, maxChars))}… (${value.length} characters)`;
  }
  const text = jsonOrString(value);
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}… (${text.length} characters)`;
}

function jsonOrString(value: unknown): string {
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol' || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A cycle: the message still needs something to show.
    return String(value);
  }
}
