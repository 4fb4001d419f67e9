import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** A handler that ran past its job's `timeoutMs`. */
export class JobTimeoutError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('JOB_TIMEOUT', message, options);
  }
}
