import type { RetrySpec } from '../envelope/job-envelope.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';

/** When a retry should happen: a delay in ms and the epoch ms it lands on. */
export interface DelayResult {
  readonly delayMs: number;
  readonly scheduledAt: number;
}

/**
 * Pure retry timing: `none`, `fixed` or `exponential` (delay × factor^(n-1), capped at maxDelayMs,
 * with optional jitter). It says *when*; whether to retry at all is decided from the delivery
 * count by the RequeueHelper.
 */
export class RetryPolicy {
  readonly spec: RetrySpec;
  readonly #random: () => number;

  constructor(spec: RetrySpec, options: { random?: () => number } = {}) {
    this.spec = RetryPolicy.validate(spec);
    this.#random = options.random ?? Math.random;
  }

  /** No retry delay (retries, if attempts remain, happen at once). */
  static none(): RetryPolicy {
    return new RetryPolicy({ type: 'none' });
  }

  /** The same delay before every retry, in ms. */
  static fixed(delayMs: number): RetryPolicy {
    return new RetryPolicy({ type: 'fixed', delayMs });
  }

  /** delayMs, then delayMs×factor, … capped at maxDelayMs; jitter (0..1) randomises that fraction away. */
  static exponential(options: { delayMs: number; factor?: number; maxDelayMs?: number; jitter?: number }): RetryPolicy {
    return new RetryPolicy({ type: 'exponential', ...options });
  }

  /** Throws InvalidArgumentError naming the field when a spec is out of range; returns it otherwise. */
  static validate(spec: RetrySpec): RetrySpec {
    const fail = (field: string, expected: string, got: unknown): never => {
      throw new InvalidArgumentError(`retry.${field}: expected ${expected}, got ${quoteInput(got)}`);
    };
    switch (spec.type) {
      case 'none':
        return spec;
      case 'fixed':
        if (!(Number.isFinite(spec.delayMs) && spec.delayMs >= 0)) fail('delayMs', 'a number >= 0', spec.delayMs);
        return spec;
      case 'exponential':
        if (!(Number.isFinite(spec.delayMs) && spec.delayMs >= 0)) fail('delayMs', 'a number >= 0', spec.delayMs);
        if (spec.factor !== undefined && !(Number.isFinite(spec.factor) && spec.factor >= 1)) fail('factor', 'a number >= 1', spec.factor);
        if (spec.maxDelayMs !== undefined && !(Number.isFinite(spec.maxDelayMs) && spec.maxDelayMs >= 0)) {
          fail('maxDelayMs', 'a number >= 0', spec.maxDelayMs);
        }
        if (spec.jitter !== undefined && !(spec.jitter >= 0 && spec.jitter <= 1)) fail('jitter', 'a number from 0 to 1', spec.jitter);
        return spec;
      default:
        return fail('type', '"none", "fixed" or "exponential"', (spec as { type: unknown }).type);
    }
  }

  /** The delay before retry number `retry` (1 = the first retry), relative to `now` (epoch ms). */
  delayFor(retry: number, now: number = Date.now()): DelayResult {
    const delayMs = Math.max(0, Math.round(this.#computeDelay(Math.max(1, retry))));
    return { delayMs, scheduledAt: now + delayMs };
  }

  #computeDelay(retry: number): number {
    const spec = this.spec;
    switch (spec.type) {
      case 'none':
        return 0;
      case 'fixed':
        return spec.delayMs;
      case 'exponential': {
        const raw = spec.delayMs * (spec.factor ?? 2) ** (retry - 1);
        const capped = Math.min(raw, spec.maxDelayMs ?? Number.POSITIVE_INFINITY);
        const jitter = spec.jitter ?? 0;
        return capped * (1 - jitter * this.#random());
      }
    }
  }
}
