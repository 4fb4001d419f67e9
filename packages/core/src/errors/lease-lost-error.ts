import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** A settle call made with a token that no longer holds the job's lease. */
export class LeaseLostError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('LEASE_LOST', message, options);
  }
}
