import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** The backend could not be reached; `cause` holds the client error. */
export class DriverConnectionError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('DRIVER_CONNECTION', message, options);
  }
}
