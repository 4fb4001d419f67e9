import {
  DriverConnectionError,
  DriverError,
  isQueueError,
  JobCancelledError,
  LeaseLostError,
  type QueueError,
  type Reservation,
} from '@queuekit/core';

/**
 * Turns a client failure into a queuekit error prefixed `redis:` with the original as `cause`:
 * a reply from the server (wrong type, script error, OOM…) becomes a DriverError, anything else
 * (refused, reset, closed, too many retries) a DriverConnectionError. QueueErrors pass through.
 */
export function wrapRedisError(error: unknown, action: string): QueueError {
  if (isQueueError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : '';
  if (name === 'ReplyError') return new DriverError(`redis: ${action} failed: ${message}`, { cause: error });
  return new DriverConnectionError(`redis: ${action} failed: ${message}`, { cause: error });
}

/** The LeaseLostError of a settle call whose delivery no longer holds the lease. */
export function leaseLostError(action: string, reservation: Reservation): LeaseLostError {
  return new LeaseLostError(`redis: ${action} of job ${reservation.id} in queue ${reservation.queue}: the lease was lost`);
}

/** The JobCancelledError of a call on a delivery whose job was cancelled while it ran. */
export function cancelledError(action: string, reservation: Reservation): JobCancelledError {
  return new JobCancelledError(`redis: ${action} of job ${reservation.id} in queue ${reservation.queue} refused: the job was cancelled`);
}

/**
 * The error of a settle script's refusal: -2 (the job was cancelled) a JobCancelledError, anything
 * else (-1) a LeaseLostError.
 */
export function refusalError(code: unknown, action: string, reservation: Reservation): LeaseLostError | JobCancelledError {
  return code === -2 ? cancelledError(action, reservation) : leaseLostError(action, reservation);
}
