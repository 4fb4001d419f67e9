import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { createMiddleware, type JobMiddleware } from '../job/job-middleware.js';
import { type MiddlewareKey, resolveKey } from './middleware-key.js';

/** Options of {@link withoutOverlapping}. */
export interface WithoutOverlappingOptions {
  /** How long a job that finds the lock taken waits before it is tried again, in ms; default 1,000. */
  readonly retryAfterMs?: number;
  /**
   * How long the lock outlives its last renewal, in ms; default twice the worker's lease. The lock
   * is renewed while the job runs, so this only bounds how long a dead worker's lock blocks others.
   */
  readonly lockTtlMs?: number;
}

/**
 * At most one job per `key` runs at a time across every worker on the driver's backend: a lease
 * lock in the driver's coordination store, renewed while the job runs and freed when it ends. A
 * job that finds the lock held is handed back unrun for `retryAfterMs` (postponed, uncounted).
 */
export function withoutOverlapping<TPayload = unknown>(
  key: MiddlewareKey<TPayload>,
  options: WithoutOverlappingOptions = {},
): JobMiddleware<TPayload> {
  const retryAfterMs = options.retryAfterMs ?? 1_000;
  if (!(Number.isFinite(retryAfterMs) && retryAfterMs >= 0)) {
    throw new InvalidArgumentError(`withoutOverlapping: retryAfterMs must be a number >= 0, got ${String(retryAfterMs)}`);
  }
  if (options.lockTtlMs !== undefined && !(Number.isFinite(options.lockTtlMs) && options.lockTtlMs > 0)) {
    throw new InvalidArgumentError(`withoutOverlapping: lockTtlMs must be a number > 0, got ${String(options.lockTtlMs)}`);
  }
  return createMiddleware<TPayload>('withoutOverlapping', ['coordination', 'postpone'], async (ctx, next) => {
    const lock = `lock:${resolveKey(key, ctx)}`;
    const owner = `${ctx.id}:${randomUUID()}`;
    const ttlMs = options.lockTtlMs ?? ctx.leaseMs * 2;
    const store = ctx.coordination;
    if (!(await store.acquire(lock, owner, ttlMs))) ctx.postpone(retryAfterMs, `${lock} is held by another job`);
    const renewal = setInterval(() => {
      store.acquire(lock, owner, ttlMs).then(
        (held) => {
          if (!held) ctx.log.warn('the overlap lock was taken over while the job ran', { lock });
        },
        (error: unknown) => ctx.log.warn('renewing the overlap lock failed', { lock, error }),
      );
    }, ttlMs / 3);
    renewal.unref();
    try {
      return await next();
    } finally {
      clearInterval(renewal);
      await store.release(lock, owner);
    }
  });
}
