import { DriverConnectionError, DriverError, QueueError } from '@queuekit/core';

/** PostgreSQL SQLSTATE classes and Node socket codes that mean "the connection is gone". */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const CONNECTION_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'SQLITE_CANTOPEN',
]);
const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /not queryable/i,
  /connection error/i,
  /terminating connection/i,
  /timeout exceeded when trying to connect/i,
];

/** True when `error` says the connection to the database was lost or could not be made. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof DriverConnectionError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_NODE_CODES.has(code) || CONNECTION_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  return CONNECTION_MESSAGES.some((pattern) => pattern.test(error.message));
}

/**
 * Wraps a client error into a DriverConnectionError or DriverError prefixed with the dialect and
 * the operation, keeping the original as `cause`. QueueErrors pass through unchanged.
 */
export function wrapError(dialect: 'postgres' | 'sqlite', operation: string, error: unknown): QueueError {
  if (error instanceof QueueError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isConnectionError(error)) return new DriverConnectionError(`${dialect}: ${operation}: ${message}`, { cause: error });
  return new DriverError(`${dialect}: ${operation}: ${message}`, { cause: error });
}
