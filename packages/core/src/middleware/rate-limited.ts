import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { createMiddleware, type JobMiddleware } from '../job/job-middleware.js';
import type { RateLimitRule } from '../rate-limit/rate-limit-store.js';
import { type MiddlewareKey, resolveKey } from './middleware-key.js';

/**
 * A token bucket per `key`, shared by every worker on the driver's backend (its rate-limit
 * store): a job that finds the bucket empty is handed back unrun until the next token is due
 * (postponed: no attempt is counted, it is not a failure). `limit` tokens per `intervalMs`.
 */
export function rateLimited<TPayload = unknown>(key: MiddlewareKey<TPayload>, limit: RateLimitRule): JobMiddleware<TPayload> {
  if (!(Number.isFinite(limit.limit) && limit.limit > 0)) {
    throw new InvalidArgumentError(`rateLimited: limit must be a number > 0, got ${String(limit.limit)}`);
  }
  if (!(Number.isFinite(limit.intervalMs) && limit.intervalMs > 0)) {
    throw new InvalidArgumentError(`rateLimited: intervalMs must be a number > 0, got ${String(limit.intervalMs)}`);
  }
  return createMiddleware<TPayload>('rateLimited', ['rateLimits', 'postpone'], async (ctx, next) => {
    const bucket = resolveKey(key, ctx);
    const decision = await ctx.rateLimits.take(`job-rate:${bucket}`, limit);
    if (!decision.granted) ctx.postpone(decision.retryAfterMs, `rate limit ${bucket} (${limit.limit} per ${limit.intervalMs} ms) reached`);
    return next();
  });
}
