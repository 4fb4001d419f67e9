import rhea, { type Message } from 'rhea';
import type { StoredMessage } from './broker-entity.js';

const { types } = rhea;

/** The AMQP message format Service Bus senders use for a batch: one data section per encoded message. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

/** Service Bus annotation `x-opt-message-state`: 1 marks a deferred message, 2 a scheduled one. */
const DEFERRED_STATE = 1;
const SCHEDULED_STATE = 2;

/**
 * The lock token as a delivery tag: Service Bus sends the GUID in .NET byte order (the first three
 * groups little-endian), while management requests carry it in RFC 4122 order. The swap is its own
 * inverse, so it converts both ways.
 */
export function reorderGuidBytes(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  out[0] = bytes[3]!;
  out[1] = bytes[2]!;
  out[2] = bytes[1]!;
  out[3] = bytes[0]!;
  out[4] = bytes[5]!;
  out[5] = bytes[4]!;
  out[6] = bytes[7]!;
  out[7] = bytes[6]!;
  return out;
}

/** RFC 4122 bytes of a UUID string. */
export function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** The UUID string of RFC 4122 bytes. */
export function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Options of {@link toWireMessage}. */
export interface WireMessageOptions {
  /** Epoch ms until which the delivery is locked (peek-lock deliveries and peeks of locked messages). */
  readonly lockedUntil?: number;
}

/**
 * The message as a receiver or a peek sees it: the stored message plus the broker's header and
 * annotations (`x-opt-sequence-number` as a long, enqueued and locked-until times as timestamps,
 * the scheduled state).
 */
export function toWireMessage(stored: StoredMessage, options: WireMessageOptions = {}): Message {
  const annotations: Record<string, unknown> = {
    ...(stored.message.message_annotations ?? {}),
    'x-opt-sequence-number': types.wrap_long(stored.sequenceNumber),
    'x-opt-enqueued-time': types.wrap_timestamp(stored.enqueuedAt),
  };
  if (options.lockedUntil !== undefined) annotations['x-opt-locked-until'] = types.wrap_timestamp(options.lockedUntil);
  if (stored.scheduledAt !== undefined) {
    annotations['x-opt-scheduled-enqueue-time'] = types.wrap_timestamp(stored.scheduledAt);
    annotations['x-opt-message-state'] = types.wrap_int(SCHEDULED_STATE);
  } else if (stored.deferred) annotations['x-opt-message-state'] = types.wrap_int(DEFERRED_STATE);
  return {
    ...stored.message,
    delivery_count: stored.deliveryCount,
    message_annotations: annotations,
  };
}

/** The messages of a transfer: one for format 0, each data section's message for a batch. */
export function messagesOfTransfer(format: number | undefined, payload: unknown): Message[] {
  if (format === undefined || format === 0) return [payload as Message];
  if (format !== BATCH_MESSAGE_FORMAT || !Buffer.isBuffer(payload)) {
    throw new Error(`unsupported message format ${String(format)}`);
  }
  const messages: Message[] = [];
  const reader = new (types as unknown as { Reader: new (buffer: Buffer) => { remaining(): number; read(): unknown } }).Reader(payload);
  while (reader.remaining() > 0) {
    const section = reader.read() as { descriptor?: { value: unknown }; value: unknown };
    // 0x75 is the data section; a batch holds one encoded message per data section (and may open
    // with the header/annotations of the batch envelope, which carry nothing per message).
    if (Number(section.descriptor?.value) === 0x75 && Buffer.isBuffer(section.value)) {
      messages.push(rhea.message.decode(section.value) as unknown as Message);
    }
  }
  return messages;
}

/** The scheduled enqueue time a sender put on a message, in epoch ms, if any. */
export function scheduledEnqueueTime(message: Message): number | undefined {
  const value = message.message_annotations?.['x-opt-scheduled-enqueue-time'] as unknown;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return undefined;
}

/** A sequence number as it arrives in a management request: a number or 8 big-endian bytes. */
export function toSequenceNumber(value: unknown): number {
  if (Buffer.isBuffer(value)) return Number(value.readBigInt64BE(0));
  if (typeof value === 'bigint') return Number(value);
  return Number(value);
}
