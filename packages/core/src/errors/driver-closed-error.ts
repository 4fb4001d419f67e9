import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** A call made on a driver after `close()`. */
export class DriverClosedError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('DRIVER_CLOSED', message, options);
  }
}
