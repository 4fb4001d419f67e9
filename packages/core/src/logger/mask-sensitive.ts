/** Keys masked by default: a key matches when, lower-cased without `-`/`_`, it equals or ends with one. */
export const DEFAULT_SENSITIVE_KEYS: readonly string[] = [
  'password',
  'passwd',
  'token',
  'secret',
  'authorization',
  'api_key',
  'apikey',
  'cookie',
];

/** What replaces a masked value. */
export const MASK = '[REDACTED]';

const normalise = (key: string) => key.toLowerCase().replace(/[-_]/g, '');

/** A predicate for the keys to mask: `key` equals or ends with one of `sensitiveKeys` (case and `-`/`_` ignored). */
function sensitivity(sensitiveKeys: readonly string[]): (key: string) => boolean {
  const keys = sensitiveKeys.map(normalise);
  return (key) => {
    const k = normalise(key);
    return keys.some((s) => k === s || k.endsWith(s));
  };
}

/**
 * `key=value`, `key: value` and `"key": "value"` pairs in free text. The value is a quoted string
 * or runs to the next space, comma, semicolon, `&` or closing bracket.
 */
const TEXT_PAIR = /(["']?)([A-Za-z][\w.-]*)\1(\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&)\]}]+)/g;

function maskText(text: string, isSensitive: (key: string) => boolean): string {
  const pairs = new RegExp(TEXT_PAIR.source, 'g');
  let out = '';
  let copied = 0;
  for (let match = pairs.exec(text); match !== null; match = pairs.exec(text)) {
    const [pair, quote = '', key = '', separator = '', value = ''] = match;
    if (!isSensitive(key)) {
      // Look for pairs inside the value too (`failed: token=…` is the pair `token=…`).
      pairs.lastIndex = match.index + 2 * quote.length + key.length + separator.length;
      continue;
    }
    const masked = value.startsWith('"') ? `"${MASK}"` : value.startsWith("'") ? `'${MASK}'` : MASK;
    out += `${text.slice(copied, match.index)}${quote}${key}${quote}${separator}${masked}`;
    copied = match.index + pair.length;
  }
  return out + text.slice(copied);
}

/**
 * Masks the values of sensitive `key=value` pairs in free text (an error message, a raw body):
 * `connect failed: password=hunter2` becomes `connect failed: password=[REDACTED]`. Quoted
 * values and `"key": "value"` (JSON) are masked too.
 */
export function maskSensitiveText(text: string, sensitiveKeys: readonly string[] = DEFAULT_SENSITIVE_KEYS): string {
  return maskText(text, sensitivity(sensitiveKeys));
}

/**
 * Returns a deep copy of `value` with the values of sensitive keys replaced by {@link MASK}, and
 * sensitive `key=value` pairs inside strings (error messages, stacks) masked as
 * {@link maskSensitiveText} does. An Error becomes `{ name, message, stack }`.
 */
export function maskSensitive(value: unknown, sensitiveKeys: readonly string[] = DEFAULT_SENSITIVE_KEYS): unknown {
  const isSensitive = sensitivity(sensitiveKeys);
  const seen = new WeakSet<object>();
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return maskText(item, isSensitive);
    if (item === null || typeof item !== 'object') return item;
    if (seen.has(item)) return '[Circular]';
    seen.add(item);
    if (item instanceof Error) return walk({ name: item.name, message: item.message, stack: item.stack });
    if (Array.isArray(item)) return item.map(walk);
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(item)) out[key] = isSensitive(key) ? MASK : walk(inner);
    return out;
  };
  return walk(value);
}
