import { isServiceBusError } from '@azure/service-bus';
import {
  DriverConnectionError,
  DriverError,
  isQueueError,
  LeaseLostError,
  PayloadTooLargeError,
  type QueueError,
  type Reservation,
} from '@queuekit/core';

/** Service Bus error codes that mean the namespace could not be reached or answered too late. */
const CONNECTION_CODES = new Set(['ServiceCommunicationProblem', 'ServiceTimeout', 'ServiceBusy', 'UnauthorizedAccess']);

/**
 * Turns a client failure into a queuekit error prefixed `servicebus:` with the original as
 * `cause`: unreachable, timed out or refused credentials become a DriverConnectionError, a missing
 * queue a DriverError naming it, anything else a DriverError. QueueErrors pass through.
 */
export function wrapServiceBusError(error: unknown, action: string, queue?: string): QueueError {
  if (isQueueError(error)) return error;
  const message = describeCause(error);
  if (isServiceBusError(error)) {
    if (error.code === 'MessagingEntityNotFound') {
      const what = queue === undefined ? 'the entity' : `queue '${queue}'`;
      return new DriverError(
        `servicebus: ${action} failed: ${what} does not exist in the namespace (create it with migrate() or in Azure): ${message}`,
        { cause: error },
      );
    }
    if (error.code === 'MessageSizeExceeded') {
      return new PayloadTooLargeError(`servicebus: ${action} failed: the message is larger than the namespace accepts: ${message}`, {
        cause: error,
      });
    }
    if (CONNECTION_CODES.has(error.code)) return new DriverConnectionError(`servicebus: ${action} failed: ${message}`, { cause: error });
    return new DriverError(`servicebus: ${action} failed (${error.code}): ${message}`, { cause: error });
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new DriverConnectionError(`servicebus: ${action} failed: ${message}`, { cause: error });
  }
  return new DriverError(`servicebus: ${action} failed: ${message}`, { cause: error });
}

/**
 * The text of a cause, never empty: some SDK and AMQP errors carry no message, only a name, an
 * AMQP condition or a description, and an error that says nothing cannot be acted on.
 */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) {
    const text = typeof error === 'object' && error !== null ? JSON.stringify(error) : String(error);
    return text === '' || text === '{}' ? `${typeof error === 'object' ? 'an object' : typeof error} with no detail` : text;
  }
  if (error.message !== '') return error.message;
  const detail = error as { code?: unknown; condition?: unknown; description?: unknown };
  const parts = [detail.code, detail.condition, detail.description].filter((part) => typeof part === 'string' && part !== '');
  return parts.length > 0 ? `${error.name}: ${parts.join(', ')}` : `${error.name} with no message`;
}

/** The SDK's refusal to settle a delivery that was already settled (its text is its only mark). */
const ALREADY_SETTLED = 'The message has either been deleted or already settled';

/**
 * A lock renewal that had not succeeded when the lock ran out (a cut connection the client was
 * still retrying, or failing at once): the broker hands the message out again then, whatever
 * becomes of the call. `cause` is the renewal's own failure, when it failed.
 */
export class LockDeadlinePassedError extends Error {
  override readonly name = 'LockDeadlinePassedError';
}

/** True when the lock of a delivery is gone: expired, settled, unknown to Service Bus, or not renewed in time. */
export function isLockLost(error: unknown): boolean {
  if (error instanceof LockDeadlinePassedError) return true;
  if (isServiceBusError(error)) return error.code === 'MessageLockLost';
  return error instanceof Error && error.message === ALREADY_SETTLED;
}

/** The LeaseLostError of a settle call whose delivery no longer holds the lock. */
export function leaseLostError(action: string, reservation: Pick<Reservation, 'id' | 'queue'>, cause?: unknown): LeaseLostError {
  return new LeaseLostError(
    `servicebus: ${action} of job ${reservation.id} in queue ${reservation.queue}: the lease was lost (its message lock expired or was settled)`,
    cause === undefined ? {} : { cause },
  );
}
