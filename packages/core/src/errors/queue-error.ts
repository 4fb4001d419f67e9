/** Stable machine-readable codes carried by every {@link QueueError}. */
export type QueueErrorCode =
  | 'CONFIG_INVALID'
  | 'SERIALIZATION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'PAYLOAD_DECODE_FAILED'
  | 'LEASE_LOST'
  | 'DRIVER_CONNECTION'
  | 'DRIVER_CLOSED'
  | 'DRIVER_ERROR'
  | 'UNKNOWN_JOB'
  | 'JOB_TIMEOUT'
  | 'JOB_CANCELLED'
  | 'JOB_FAILED'
  | 'WAIT_TIMEOUT'
  | 'UNRECOVERABLE'
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED'
  | 'INVALID_PAYLOAD'
  | 'JOB_POSTPONED'
  | 'RETRY_LATER'
  | 'COMMAND_FAILED'
  | 'HTTP_FAILED'
  | 'ADDRESS_REFUSED';

/** Options accepted by every {@link QueueError} constructor. */
export interface QueueErrorOptions {
  /** The underlying error, kept as the native `cause`. */
  readonly cause?: unknown;
}

/** Base class of every error queuekit throws; `code` is stable across releases. */
export class QueueError extends Error {
  /** Stable code naming the failure family. */
  readonly code: QueueErrorCode;

  constructor(code: QueueErrorCode, message: string, options: QueueErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `error` is a {@link QueueError}, optionally with the given code. */
export function isQueueError(error: unknown, code?: QueueErrorCode): error is QueueError {
  return error instanceof QueueError && (code === undefined || error.code === code);
}
