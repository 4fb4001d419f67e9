import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** A payload or result that JSON would mangle; the message names the path. */
export class SerializationError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('SERIALIZATION_FAILED', message, options);
  }
}
