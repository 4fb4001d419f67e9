import { QueueError, type QueueErrorOptions } from './queue-error.js';

/**
 * A failed run that says when to try again (an HTTP 429 or 503 with `Retry-After`): counted as an
 * attempt like any failure, but retried after `retryAfterMs` instead of the retry policy's delay.
 * Dead-lettered as usual once the attempts are spent.
 */
export class RetryLaterError extends QueueError {
  /** When to retry, in ms from now (>= 0). */
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options: QueueErrorOptions = {}) {
    super('RETRY_LATER', message, options);
    this.retryAfterMs = Number.isFinite(retryAfterMs) ? Math.max(0, Math.ceil(retryAfterMs)) : 0;
  }
}
