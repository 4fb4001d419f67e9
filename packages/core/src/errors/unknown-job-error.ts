import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** A job name with no handler registered in this worker. */
export class UnknownJobError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('UNKNOWN_JOB', message, options);
  }
}
