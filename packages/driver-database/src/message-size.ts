import { ConfigError, PayloadTooLargeError, quoteInput } from '@queuekit/core';

/** Default largest encoded envelope either dialect stores: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Validates the `maxMessageBytes` option; returns the default when absent. */
export function resolveMaxMessageBytes(dialect: string, value: number | undefined): number {
  const bytes = value ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(bytes) || bytes < 1)
    throw new ConfigError(`${dialect}: options.maxMessageBytes: expected an integer >= 1, got ${quoteInput(value)}`);
  return bytes;
}

/** Throws PayloadTooLargeError when an encoded body exceeds `maxBytes`. */
export function assertMessageSize(dialect: string, id: string, body: string, maxBytes: number): void {
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > maxBytes) {
    throw new PayloadTooLargeError(`${dialect}: push: envelope ${id} is ${bytes} bytes encoded, above maxMessageBytes (${maxBytes})`);
  }
}
