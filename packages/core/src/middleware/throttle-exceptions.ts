import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { JobPostponedError } from '../errors/job-postponed-error.js';
import { createMiddleware, type JobMiddleware } from '../job/job-middleware.js';
import { type MiddlewareKey, resolveKey } from './middleware-key.js';

/** Options of {@link throttleExceptions}. */
export interface ThrottleExceptionsOptions<TPayload = unknown> {
  /** Failures within `windowMs` that open the circuit (>= 1). */
  readonly failures: number;
  /** The window failures are counted in, in ms (a fixed window from the first failure). */
  readonly windowMs: number;
  /** How long the circuit stays open, in ms; jobs are postponed meanwhile. */
  readonly cooldownMs: number;
  /** Circuit key; default the job name (one circuit per job type). */
  readonly key?: MiddlewareKey<TPayload>;
  /** Which errors count; default every error (a postponement never counts). */
  readonly counts?: (error: unknown) => boolean;
}

/**
 * A circuit breaker shared by every worker on the driver's backend (its coordination store):
 * `failures` handler errors within `windowMs` open the circuit for `cooldownMs`, during which every
 * job under the key is handed back unrun until the cooldown ends (postponed: no attempt counted,
 * not failed). After the cooldown the circuit closes and failures count anew. The failing jobs
 * themselves fail as usual (retried or dead-lettered by their policy).
 */
export function throttleExceptions<TPayload = unknown>(options: ThrottleExceptionsOptions<TPayload>): JobMiddleware<TPayload> {
  const { failures, windowMs, cooldownMs } = options;
  if (!(Number.isInteger(failures) && failures >= 1)) {
    throw new InvalidArgumentError(`throttleExceptions: failures must be an integer >= 1, got ${String(failures)}`);
  }
  for (const [name, value] of [
    ['windowMs', windowMs],
    ['cooldownMs', cooldownMs],
  ] as const) {
    if (!(Number.isFinite(value) && value > 0))
      throw new InvalidArgumentError(`throttleExceptions: ${name} must be a number > 0, got ${String(value)}`);
  }
  return createMiddleware<TPayload>('throttleExceptions', ['coordination', 'postpone'], async (ctx, next) => {
    const circuit = `circuit:${options.key === undefined ? ctx.name : resolveKey(options.key, ctx)}`;
    const store = ctx.coordination;
    const openForMs = await store.remainingMs(`${circuit}:open`);
    if (openForMs > 0) ctx.postpone(openForMs, `${circuit} is open`);
    try {
      return await next();
    } catch (error) {
      if (!(error instanceof JobPostponedError) && (options.counts?.(error) ?? true)) {
        const count = await store.increment(`${circuit}:failures`, windowMs);
        // One opener wins the lease; the others find it held and leave its cooldown alone.
        if (count >= failures && (await store.acquire(`${circuit}:open`, randomUUID(), cooldownMs))) {
          await store.delete(`${circuit}:failures`);
          ctx.log.warn('circuit opened', { circuit, failures: count, cooldownMs });
        }
      }
      throw error;
    }
  });
}
