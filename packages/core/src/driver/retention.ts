import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';

/**
 * How many finished (completed or cancelled) jobs a driver keeps per queue, and for how long; the
 * backend prunes past either bound as it stores new ones. `false` keeps no completed jobs (cancelled
 * ones are still kept, bounded the same way, so a cancelled job's worker learns it was cancelled).
 */
export type RetentionOptions = false | { readonly count?: number; readonly ageMs?: number };

/** Resolved retention: both bounds set, or off. */
export interface Retention {
  /** False when completed jobs are not kept. */
  readonly completed: boolean;
  /** Finished jobs kept per queue at most. */
  readonly count: number;
  /** Finished jobs older than this are pruned, in ms. */
  readonly ageMs: number;
  /**
   * Pruning by count runs once a queue keeps this many records past the count (count / 10, at
   * least 1), rather than on every store: a queue holds up to count + pruneStep - 1 at times.
   */
  readonly pruneStep: number;
}

/** The count-pruning step of a count bound: a tenth of it, at least 1. */
function pruneStep(count: number): number {
  return Math.max(1, Math.floor(count / 10));
}

/** Keep the last 1,000 finished jobs of each queue, for at most a day. */
export const DEFAULT_RETENTION: Retention = Object.freeze({
  completed: true,
  count: 1000,
  ageMs: 24 * 60 * 60 * 1000,
  pruneStep: pruneStep(1000),
});

/** Resolves a driver's `retention` option, with a clear error naming the driver and the bad field. */
export function resolveRetention(driver: string, options: RetentionOptions | undefined): Retention {
  if (options === undefined) return DEFAULT_RETENTION;
  if (options === false) return Object.freeze({ ...DEFAULT_RETENTION, completed: false });
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`${driver}: retention: expected false or { count, ageMs }, got ${quoteInput(options)}`);
  }
  const count = options.count ?? DEFAULT_RETENTION.count;
  const ageMs = options.ageMs ?? DEFAULT_RETENTION.ageMs;
  if (!Number.isInteger(count) || count < 1)
    throw new InvalidArgumentError(`${driver}: retention.count: expected an integer >= 1, got ${quoteInput(count)}`);
  if (!Number.isFinite(ageMs) || ageMs < 1)
    throw new InvalidArgumentError(`${driver}: retention.ageMs: expected a number of ms >= 1, got ${quoteInput(ageMs)}`);
  return Object.freeze({ completed: true, count, ageMs, pruneStep: pruneStep(count) });
}
