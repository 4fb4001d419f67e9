import type { CoordinationStore } from '../coordination/coordination-store.js';
import type { RateLimitStore } from '../rate-limit/rate-limit-store.js';
import type { JobContext } from './job-context.js';

/** What a middleware may need of the driver; a worker whose driver lacks one refuses to start. */
export type MiddlewareRequirement = 'coordination' | 'rateLimits' | 'postpone';

/** What a job middleware gets: the handler's context plus the payload and the driver's shared stores. */
export interface MiddlewareContext<TPayload = unknown> extends JobContext {
  /** The payload the handler will get (upgraded and validated). */
  readonly payload: TPayload;
  /** The worker's lease length, in ms: a lock a middleware holds for the job should outlive a heartbeat period. */
  readonly leaseMs: number;
  /** The driver's coordination store (see `requires: ['coordination']`). */
  readonly coordination: CoordinationStore;
  /** The driver's rate-limit store (see `requires: ['rateLimits']`). */
  readonly rateLimits: RateLimitStore;
  /**
   * Hands the job back unrun, due again in `delayMs`: no attempt counted, not a failure (see
   * `requires: ['postpone']`). Throws; call it as `return ctx.postpone(…)` or `throw`.
   */
  postpone(delayMs: number, reason: string): never;
}

/** Runs the rest of the chain (the next middleware, and at the end the handler); resolves the handler's result. */
export type MiddlewareNext = () => Promise<unknown>;

/**
 * A job middleware: `(ctx, next) => …` around a job's handler, in the order given to
 * `defineJob(…, { middleware: [outer, inner] })`. Not calling `next` skips the handler; returning
 * `next()`'s value keeps the result. `requires` names what it needs of the driver, checked when a
 * worker is created.
 */
export interface JobMiddleware<TPayload = unknown> {
  (ctx: MiddlewareContext<TPayload>, next: MiddlewareNext): Promise<unknown>;
  /** Driver facilities it uses; a Worker whose driver lacks one throws a ConfigError naming both. */
  readonly requires?: readonly MiddlewareRequirement[];
  /** A name for error messages (`rateLimited(api)`). */
  readonly middlewareName?: string;
}

/** Attaches `requires` and a name to a middleware function. */
export function createMiddleware<TPayload = unknown>(
  name: string,
  requires: readonly MiddlewareRequirement[],
  run: (ctx: MiddlewareContext<TPayload>, next: MiddlewareNext) => Promise<unknown>,
): JobMiddleware<TPayload> {
  return Object.assign(run, { requires, middlewareName: name });
}
