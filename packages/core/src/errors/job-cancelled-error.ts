import { QueueError, type QueueErrorOptions } from './queue-error.js';

/**
 * A job cancelled by id: thrown into an active handler's `signal` at its next lease renewal, and by
 * a handle's `result()` for a job that ended `cancelled`.
 */
export class JobCancelledError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('JOB_CANCELLED', message, options);
  }
}
