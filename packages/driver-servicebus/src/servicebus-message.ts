import type { ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { DeadLetterEntry, DeadLetterReason, ErrorInfo, JobEnvelope, JobFailure, Reservation } from '@queuekit/core';
import { encodeEnvelope, fromBackend } from '@queuekit/core/driver';
import { sequenceOf } from './queue-peek.js';
import { tokenOf } from './settle-target.js';

/**
 * Application properties the driver keeps on a message. Service Bus counts every delivery that
 * ended unsettled in `deliveryCount` (a lock that expired, and every abandon); the driver records
 * beside it what it did itself, so the two counts of the contract can be told apart:
 *
 * - `qk-failures`: runs that failed (`release()`), so `attempt` = failures + 1;
 * - `qk-returns`: abandons by `release()` and `giveBack()`, which raised `deliveryCount` without a
 *   lost lease;
 * - `qk-lost`: lost deliveries carried over to a copy, whose `deliveryCount` started again at 0
 *   (releases of earlier versions sent copies; messages they left still count right).
 *
 * lostDeliveries = qk-lost + deliveryCount - qk-returns.
 *
 * A delayed release defers the message (see the driver's `#releaseByDeferral`) and writes on it:
 *
 * - `qk-release`: the release's nonce, which the pointer that brings it back must name;
 * - `qk-envelope`: the envelope as the release rewrote it (a defer cannot change the body).
 *
 * The pointer is a small message of its own: `qk-deferred` = the deferred message's sequence
 * number, `qk-release` = the nonce.
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
  release: 'qk-release',
  envelope: 'qk-envelope',
  deferred: 'qk-deferred',
} as const;

/** The `subject` of a pointer message (it carries no job). */
const POINTER_SUBJECT = 'qk-release-pointer';

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

/** What a pointer message names: the deferred message and the release that deferred it. */
export interface PointerTarget {
  readonly sequenceNumber: number;
  readonly nonce: string;
}

/** The pointer message that brings back the message `target` names (sent as a scheduled message). */
export function pointerMessage(target: PointerTarget): ServiceBusMessage {
  return {
    body: Buffer.alloc(0),
    messageId: target.nonce,
    subject: POINTER_SUBJECT,
    applicationProperties: { [PROPERTY.deferred]: target.sequenceNumber, [PROPERTY.release]: target.nonce },
  };
}

/** What a received pointer message names; undefined for any other message. */
export function pointerTarget(message: ServiceBusReceivedMessage): PointerTarget | undefined {
  const properties = message.applicationProperties ?? {};
  const sequenceNumber = properties[PROPERTY.deferred];
  const nonce = properties[PROPERTY.release];
  if (message.subject !== POINTER_SUBJECT || typeof sequenceNumber !== 'number' || typeof nonce !== 'string') return undefined;
  return { sequenceNumber, nonce };
}

/**
 * The properties a delayed release writes with the defer: the counts (the defer raised
 * `deliveryCount`, so it counts as a return), the release's nonce and the envelope as released.
 */
export function deferredProperties(
  envelope: JobEnvelope,
  nonce: string,
  counts: { readonly failures: number; readonly returns: number },
): Record<string, number | string> {
  return {
    [PROPERTY.failures]: counts.failures,
    [PROPERTY.returns]: counts.returns,
    [PROPERTY.release]: nonce,
    [PROPERTY.envelope]: encodeEnvelope(envelope),
  };
}

/**
 * The envelope text of a received message: the envelope a delayed release wrote into its
 * properties, else the body (the driver sends bytes; anything else is read as the SDK decoded it).
 */
export function bodyText(message: ServiceBusReceivedMessage): string {
  const released = message.applicationProperties?.[PROPERTY.envelope];
  if (typeof released === 'string') return released;
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

/** The reservation of a received message (its lease ending at `leaseExpiresAt`). */
export function reservationOf(queue: string, message: ServiceBusReceivedMessage, leaseExpiresAt: number): Reservation {
  const counts = deliveryCounts(message);
  const decoded = decodeMessage(message);
  return {
    token: tokenOf({ lockToken: message.lockToken ?? '', sequenceNumber: sequenceOf(message), returns: counts.returns }),
    id: messageJobId(message, 'envelope' in decoded ? decoded.envelope : undefined),
    queue,
    attempt: counts.attempt,
    lostDeliveries: counts.lostDeliveries,
    leaseExpiresAt,
    ...('envelope' in decoded ? { envelope: decoded.envelope } : { poison: { raw: decoded.raw, error: decoded.error } }),
  };
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
