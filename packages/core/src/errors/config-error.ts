import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** Configuration that cannot be used: names the key and what was expected. */
export class ConfigError extends QueueError {
  constructor(message: string, options: QueueErrorOptions = {}) {
    super('CONFIG_INVALID', message, options);
  }
}
