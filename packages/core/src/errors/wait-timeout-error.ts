import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** Waiting for something (a job's result) took longer than the caller allowed. */
export class WaitTimeoutError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('WAIT_TIMEOUT', message, options);
  }
}
