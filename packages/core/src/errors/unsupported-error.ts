import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** An operation the driver declares it cannot do (see its capabilities). */
export class UnsupportedError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('UNSUPPORTED', message, options);
  }
}
