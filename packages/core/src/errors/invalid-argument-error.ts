import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** An argument outside its documented range; the message names it. */
export class InvalidArgumentError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('INVALID_ARGUMENT', message, options);
  }
}
