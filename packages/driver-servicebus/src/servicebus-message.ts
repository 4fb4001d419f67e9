import type { ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { DeadLetterEntry, DeadLetterReason, ErrorInfo, JobEnvelope, JobFailure } from '@queuekit/core';
import { encodeEnvelope, fromBackend } from '@queuekit/core/driver';

/**
 * Application properties the driver keeps on a message. Service Bus counts every delivery that
 * ended unsettled in `deliveryCount` (a lock that expired, and every abandon); the driver records
 * beside it what it did itself, so the two counts of the contract can be told apart:
 *
 * - `qk-failures`: runs that failed (`release()`), so `attempt` = failures + 1;
 * - `qk-returns`: abandons by `release()` and `giveBack()`, which raised `deliveryCount` without a
 *   lost lease;
 * - `qk-lost`: lost deliveries carried over to a copy (a delayed release is a new message whose
 *   `deliveryCount` starts again at 0).
 *
 * lostDeliveries = qk-lost + deliveryCount - qk-returns.
 */
export const PROPERTY = {
  failures: 'qk-failures',
  returns: 'qk-returns',
  lost: 'qk-lost',
  reason: 'qk-reason',
  error: 'qk-error',
  attempts: 'qk-attempts',
  firstFailedAt: 'qk-first-failed-at',
  failedAt: 'qk-failed-at',
} as const;

/** Dead-letter descriptions are cut to this many characters (Service Bus caps the field). */
const MAX_DESCRIPTION = 1_000;
/** Stacks kept in a dead letter's properties are cut to this many characters (properties share the message size). */
const MAX_STACK = 16_000;

/** The counts a received message carries. */
export interface DeliveryCounts {
  readonly failures: number;
  readonly returns: number;
  readonly lost: number;
  /** `attempt` of the reservation: failures + 1. */
  readonly attempt: number;
  /** `lostDeliveries` of the reservation. */
  readonly lostDeliveries: number;
}

/** Reads the counts of a received message (see {@link PROPERTY}). */
export function deliveryCounts(message: ServiceBusReceivedMessage): DeliveryCounts {
  const properties = message.applicationProperties ?? {};
  const failures = count(properties[PROPERTY.failures]);
  const returns = count(properties[PROPERTY.returns]);
  const lost = count(properties[PROPERTY.lost]);
  const delivered = count(message.deliveryCount);
  return { failures, returns, lost, attempt: failures + 1, lostDeliveries: lost + Math.max(0, delivered - returns) };
}

/** The message that carries `envelope` (body: the encoded envelope as UTF-8 JSON bytes). */
export function envelopeMessage(envelope: JobEnvelope, properties: Record<string, number> = {}): ServiceBusMessage {
  return {
    body: Buffer.from(encodeEnvelope(envelope), 'utf8'),
    contentType: 'application/json',
    messageId: envelope.id,
    subject: envelope.name,
    applicationProperties: properties,
  };
}

/** The encoded size of an envelope, in bytes (what `maxMessageBytes` bounds). */
export function envelopeBytes(envelope: JobEnvelope): number {
  return Buffer.byteLength(encodeEnvelope(envelope), 'utf8');
}

/** A received body as text (the driver sends bytes; anything else is read as the SDK decoded it). */
export function bodyText(message: ServiceBusReceivedMessage): string {
  const { body } = message;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  if (typeof body === 'string') return body;
  return JSON.stringify(body) ?? String(body);
}

/** The decoded envelope of a message, or the raw text and the decode error. */
export function decodeMessage(message: ServiceBusReceivedMessage): { envelope: JobEnvelope } | { raw: string; error: Error } {
  const raw = bodyText(message);
  try {
    return { envelope: fromBackend(raw) };
  } catch (error) {
    return { raw, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** The job id of a message: its envelope's id, else the message id. */
export function messageJobId(message: ServiceBusReceivedMessage, envelope: JobEnvelope | undefined): string {
  return envelope?.id ?? String(message.messageId ?? message.sequenceNumber?.toString() ?? '');
}

/** Dead-letter options of `deadLetterMessage()`: the reason and description Service Bus shows, plus the failure record. */
export function deadLetterProperties(failure: JobFailure): Record<string, string | number> & {
  deadLetterReason: string;
  deadLetterErrorDescription: string;
} {
  const error: ErrorInfo =
    failure.error.stack !== undefined && failure.error.stack.length > MAX_STACK
      ? { ...failure.error, stack: failure.error.stack.slice(0, MAX_STACK) }
      : failure.error;
  return {
    deadLetterReason: failure.reason,
    deadLetterErrorDescription: `${failure.error.name}: ${failure.error.message}`.slice(0, MAX_DESCRIPTION),
    [PROPERTY.reason]: failure.reason,
    [PROPERTY.error]: JSON.stringify(error),
    [PROPERTY.attempts]: failure.attempts,
    [PROPERTY.firstFailedAt]: failure.firstFailedAt,
    [PROPERTY.failedAt]: failure.failedAt,
  };
}

const REASONS = new Set<DeadLetterReason>(['failed', 'poison', 'unknown-job', 'max-deliveries', 'timeout', 'invalid-payload']);

/**
 * A message of a dead-letter sub-queue as a store entry. Messages Service Bus moved there itself
 * (MaxDeliveryCountExceeded, TTL expiry) have no failure record: they read as `max-deliveries`
 * with the broker's reason and description as the error, failed when they were dead-lettered.
 */
export function deadLetterEntry(queue: string, message: ServiceBusReceivedMessage): DeadLetterEntry {
  const properties = message.applicationProperties ?? {};
  const decoded = decodeMessage(message);
  const envelope = 'envelope' in decoded ? decoded.envelope : undefined;
  const recordedReason = properties[PROPERTY.reason];
  const reason: DeadLetterReason = REASONS.has(recordedReason as DeadLetterReason)
    ? (recordedReason as DeadLetterReason)
    : 'max-deliveries';
  const enqueuedAt = message.enqueuedTimeUtc?.getTime() ?? 0;
  const failedAt = typeof properties[PROPERTY.failedAt] === 'number' ? (properties[PROPERTY.failedAt] as number) : enqueuedAt;
  return {
    id: messageJobId(message, envelope),
    queue,
    name: envelope?.name,
    envelope,
    ...('raw' in decoded ? { raw: decoded.raw } : {}),
    reason,
    error: recordedError(properties, message),
    attempts:
      typeof properties[PROPERTY.attempts] === 'number' ? (properties[PROPERTY.attempts] as number) : count(properties[PROPERTY.failures]),
    firstFailedAt: typeof properties[PROPERTY.firstFailedAt] === 'number' ? (properties[PROPERTY.firstFailedAt] as number) : failedAt,
    failedAt,
  };
}

function recordedError(properties: Record<string, unknown>, message: ServiceBusReceivedMessage): ErrorInfo {
  const text = properties[PROPERTY.error];
  if (typeof text === 'string') {
    try {
      const parsed = JSON.parse(text) as ErrorInfo;
      if (typeof parsed.name === 'string' && typeof parsed.message === 'string') return parsed;
    } catch {
      // A record written by something else: fall through to the broker's own reason below.
    }
  }
  return {
    name: message.deadLetterReason ?? 'DeadLettered',
    message: message.deadLetterErrorDescription ?? 'dead-lettered by Service Bus',
  };
}

function count(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
