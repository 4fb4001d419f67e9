import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** Any other backend failure, prefixed with the driver's name, with the client error as `cause`. */
export class DriverError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('DRIVER_ERROR', message, options);
  }
}
