import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** An encoded envelope larger than the configured or backend maximum. */
export class PayloadTooLargeError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('PAYLOAD_TOO_LARGE', message, options);
  }
}
