import { QueueError } from './queue-error.js';

/**
 * Thrown (by `ctx.postpone()` in a job middleware, or by a handler) to hand the job back unrun,
 * due again after `delayMs`: not a failure, no attempt counted. The worker settles it through
 * the driver's `postpone()`.
 */
export class JobPostponedError extends QueueError {
  /** How long the job waits before it is available again, in ms. */
  readonly delayMs: number;

  constructor(delayMs: number, reason: string) {
    super('JOB_POSTPONED', `job postponed by ${Math.max(0, Math.ceil(delayMs))} ms: ${reason}`);
    this.delayMs = Math.max(0, Math.ceil(delayMs));
  }
}
