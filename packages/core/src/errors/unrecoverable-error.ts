import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** Thrown by a handler to fail a job for good, skipping any remaining retries. */
export class UnrecoverableError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('UNRECOVERABLE', message, options);
  }
}
