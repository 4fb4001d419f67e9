import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { InvalidArgumentError, quoteInput } from '@queuekit/core';

/** What a reservation token carries: the lock, the message's sequence number and its recorded returns. */
export interface TokenParts {
  /** The Service Bus lock token of the delivery. */
  readonly lockToken: string;
  /** The message's sequence number (to tell a lost lock from a finished job). */
  readonly sequenceNumber: number;
  /** `qk-returns` when it was received (an abandon writes it one higher). */
  readonly returns: number;
}

/** A reservation resolved to what settles it: a received message and its receiver, or a lock token alone. */
export interface SettleTarget extends TokenParts {
  readonly queue: string;
  readonly message: ServiceBusReceivedMessage;
  readonly receiver: ServiceBusReceiver;
}

/** The reservation token of a delivery: `<lock token>.<sequence number>.<returns>`. */
export function tokenOf(parts: TokenParts): string {
  return `${parts.lockToken}.${parts.sequenceNumber}.${parts.returns}`;
}

/** The parts of a reservation token; InvalidArgumentError when it is not one of this driver's. */
export function parseToken(token: string): TokenParts {
  const match = /^([0-9a-f-]{36})\.(-?\d+)\.(\d+)$/i.exec(token);
  if (match === null) throw new InvalidArgumentError(`servicebus: ${quoteInput(token)} is not a Service Bus reservation token`);
  return { lockToken: match[1]!, sequenceNumber: Number(match[2]), returns: Number(match[3]) };
}
