import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** A stored body that cannot be decoded into a valid envelope. */
export class PayloadDecodeError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('PAYLOAD_DECODE_FAILED', message, options);
  }
}
