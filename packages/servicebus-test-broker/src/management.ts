import rhea, { type Message } from 'rhea';
import type { BrokerEntity } from './broker-entity.js';
import { bytesToUuid, messagesOfTransfer, toSequenceNumber, toWireMessage, uuidToBytes } from './wire-format.js';

const { types } = rhea;

/** A management response: status code, optional error condition and description, body. */
export interface ManagementResponse {
  readonly statusCode: number;
  readonly errorCondition?: string;
  readonly description?: string;
  readonly body?: unknown;
}

/** What a management operation can ask of the broker beyond the entity itself. */
export interface ManagementHost {
  /** Offers messages to the entity's waiting receivers after something became available. */
  pump(entity: BrokerEntity): void;
  /** Largest message accepted, in bytes. */
  readonly maxMessageBytes: number;
}

const LOCK_LOST = 'com.microsoft:message-lock-lost';
const MESSAGE_NOT_FOUND = 'com.microsoft:message-not-found';

/**
 * Answers one request to `<entity>/$management` (the Service Bus request/response node): peek,
 * lock renewal, scheduling and cancelling, receive of deferred messages by sequence number, and
 * settlement by lock token.
 */
export function handleManagementRequest(entity: BrokerEntity, request: Message, host: ManagementHost): ManagementResponse {
  const operation = String(request.application_properties?.operation ?? '');
  const body = (request.body ?? {}) as Record<string, unknown>;
  switch (operation) {
    case 'com.microsoft:peek-message':
      return peek(entity, body);
    case 'com.microsoft:renew-lock':
      return renewLocks(entity, body);
    case 'com.microsoft:schedule-message':
      return schedule(entity, body, host);
    case 'com.microsoft:cancel-scheduled-message':
      entity.cancelScheduled(asArray(body['sequence-numbers']).map(toSequenceNumber));
      return { statusCode: 200, body: {} };
    case 'com.microsoft:receive-by-sequence-number':
      return receiveBySequenceNumber(entity, body);
    case 'com.microsoft:update-disposition':
      return updateDisposition(entity, body, host);
    default:
      return { statusCode: 501, errorCondition: 'amqp:not-implemented', description: `The test broker does not support '${operation}'.` };
  }
}

function peek(entity: BrokerEntity, body: Record<string, unknown>): ManagementResponse {
  const from = toSequenceNumber(body['from-sequence-number'] ?? 0);
  const count = Number(body['message-count'] ?? 1);
  const found = entity.peek(from, count);
  if (found.length === 0) return { statusCode: 204, body: {} };
  return {
    statusCode: 200,
    body: {
      messages: found.map((stored) => ({
        message: rhea.message.encode(toWireMessage(stored, stored.lock === undefined ? {} : { lockedUntil: stored.lock.until })),
      })),
    },
  };
}

function renewLocks(entity: BrokerEntity, body: Record<string, unknown>): ManagementResponse {
  const expirations: number[] = [];
  for (const token of asArray(body['lock-tokens'])) {
    const until = entity.renew(tokenString(token));
    if (until === undefined) {
      return {
        statusCode: 410,
        errorCondition: LOCK_LOST,
        description: `The lock supplied is invalid: it expired, or the message was settled (${entity.name}).`,
      };
    }
    expirations.push(until);
  }
  return { statusCode: 200, body: { expirations: types.wrap_array(expirations, 0x83, undefined) } };
}

function schedule(entity: BrokerEntity, body: Record<string, unknown>, host: ManagementHost): ManagementResponse {
  // Every message is checked before any is stored: a refused request schedules nothing.
  const decoded: Message[] = [];
  for (const entry of asArray(body.messages)) {
    const encoded = (entry as Record<string, unknown>).message;
    if (!Buffer.isBuffer(encoded)) {
      return { statusCode: 400, errorCondition: 'amqp:decode-error', description: 'schedule-message: a message is not binary' };
    }
    if (encoded.length > host.maxMessageBytes) {
      return {
        statusCode: 413,
        errorCondition: 'amqp:link:message-size-exceeded',
        description: `The received message (size ${encoded.length} bytes) exceeds the limit (${host.maxMessageBytes} bytes) of ${entity.name}.`,
      };
    }
    decoded.push(...messagesOfTransfer(0, rhea.message.decode(encoded)));
  }
  const sequenceNumbers = decoded.map((message) => {
    const at = message.message_annotations?.['x-opt-scheduled-enqueue-time'] as unknown;
    return entity.enqueue(message, at instanceof Date ? at.getTime() : Number(at ?? Date.now()));
  });
  host.pump(entity);
  return { statusCode: 200, body: { 'sequence-numbers': types.wrap_array(sequenceNumbers, 0x81, undefined) } };
}

/**
 * Hands out deferred messages by sequence number: peek-lock (`receiver-settle-mode` 1) locks each
 * and answers its lock token (RFC-order UUID); receive-and-delete (0) removes them. A sequence
 * number that is missing, not deferred or locked refuses the whole request (`message-not-found`).
 */
function receiveBySequenceNumber(entity: BrokerEntity, body: Record<string, unknown>): ManagementResponse {
  const found = entity.deferredMessages(asArray(body['sequence-numbers']).map(toSequenceNumber));
  if (!Array.isArray(found)) return { statusCode: 404, errorCondition: MESSAGE_NOT_FOUND, description: found.refused };
  const peekLock = Number(body['receiver-settle-mode'] ?? 1) === 1;
  const messages = found.map((stored) => {
    if (!peekLock) {
      entity.remove(stored.sequenceNumber);
      return { message: rhea.message.encode(toWireMessage(stored)) };
    }
    const token = entity.lock(stored);
    return {
      message: rhea.message.encode(toWireMessage(stored, { lockedUntil: stored.lock!.until })),
      'lock-token': types.wrap_uuid(uuidToBytes(token)),
    };
  });
  return { statusCode: 200, body: { messages } };
}

function updateDisposition(entity: BrokerEntity, body: Record<string, unknown>, host: ManagementHost): ManagementResponse {
  const status = String(body['disposition-status'] ?? '');
  const properties = body['properties-to-modify'] as Record<string, unknown> | undefined;
  for (const token of asArray(body['lock-tokens']).map(tokenString)) {
    let settled: boolean;
    if (status === 'completed') settled = entity.complete(token);
    else if (status === 'abandoned') settled = entity.abandon(token, properties);
    // The SDK spells it so.
    else if (status === 'defered' || status === 'deferred') settled = entity.defer(token, properties);
    else if (status === 'suspended') {
      const reason = body['deadletter-reason'] as string | undefined;
      const description = body['deadletter-description'] as string | undefined;
      settled = entity.deadLetter(token, { reason, description }, properties);
    } else {
      return {
        statusCode: 501,
        errorCondition: 'amqp:not-implemented',
        description: `The test broker does not support disposition '${status}'.`,
      };
    }
    if (!settled) return { statusCode: 410, errorCondition: LOCK_LOST, description: `The lock supplied is invalid (${entity.name}).` };
  }
  host.pump(entity);
  return { statusCode: 200, body: {} };
}

function asArray(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

/** A lock token of a management body (RFC-order UUID bytes, or already a string). */
function tokenString(value: unknown): string {
  return Buffer.isBuffer(value) ? bytesToUuid(value) : String(value);
}
