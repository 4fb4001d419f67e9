import type { MiddlewareContext } from '../job/job-middleware.js';

/** A fixed key, or one computed from the job (a tenant id in the payload). */
export type MiddlewareKey<TPayload = unknown> = string | ((ctx: MiddlewareContext<TPayload>) => string);

/** The key of `ctx`'s job. */
export function resolveKey<TPayload>(key: MiddlewareKey<TPayload>, ctx: MiddlewareContext<TPayload>): string {
  return typeof key === 'function' ? key(ctx) : key;
}
