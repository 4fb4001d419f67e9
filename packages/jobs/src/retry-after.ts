/**
 * The delay a `Retry-After` header asks for, in ms: delta-seconds or an HTTP date; undefined when
 * absent or unreadable. Capped at `maxMs`.
 */
export function retryAfterMs(header: string | undefined, maxMs: number, now: number = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Math.min(maxMs, Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(maxMs, Math.max(0, at - now));
}
