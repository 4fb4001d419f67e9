import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver, ServiceBusSender } from '@azure/service-bus';
import { type JobEnvelope, PayloadTooLargeError, type QueueStats } from '@queuekit/core';
import Long from 'long';
import { peekAll } from './queue-peek.js';
import { envelopeMessage, pointerTarget } from './servicebus-message.js';

/** Ready messages removed per receive-and-delete round trip by {@link purgeQueue}. */
const PURGE_BATCH = 250;

/**
 * Sends the ready envelopes of one queue in as few batches as fit (a round trip per batch) and
 * schedules the delayed ones, one call per due time.
 */
export async function sendEnvelopes(sender: ServiceBusSender, envelopes: readonly JobEnvelope[]): Promise<void> {
  const now = Date.now();
  const ready = envelopes.filter((envelope) => envelope.availableAt <= now);
  const delayed = envelopes.filter((envelope) => envelope.availableAt > now);
  let batch = await sender.createMessageBatch();
  for (const envelope of ready) {
    if (batch.tryAddMessage(envelopeMessage(envelope))) continue;
    if (batch.count > 0) {
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      if (batch.tryAddMessage(envelopeMessage(envelope))) continue;
    }
    throw new PayloadTooLargeError(
      `servicebus: job ${envelope.id} does not fit in one Service Bus message (batch limit ${batch.maxSizeInBytes} bytes)`,
    );
  }
  if (batch.count > 0) await sender.sendMessages(batch);
  const byDueTime = new Map<number, JobEnvelope[]>();
  for (const envelope of delayed) byDueTime.set(envelope.availableAt, [...(byDueTime.get(envelope.availableAt) ?? []), envelope]);
  for (const [dueAt, list] of byDueTime) {
    await sender.scheduleMessages(
      list.map((envelope) => envelopeMessage(envelope)),
      new Date(dueAt),
    );
  }
}

/**
 * The counts of a queue from a peek of its messages: locked ones are reserved (by their
 * locked-until), scheduled ones and deferred ones (a delayed release waiting for its pointer) are
 * delayed, the rest ready. Release pointers are not jobs and are left out.
 */
export function countMessages(queue: string, messages: readonly ServiceBusReceivedMessage[], dead: number): QueueStats {
  const now = Date.now();
  let ready = 0;
  let delayed = 0;
  let reserved = 0;
  let oldestReadyAt: number | undefined;
  for (const message of messages) {
    if (pointerTarget(message) !== undefined) continue;
    if ((message.lockedUntilUtc?.getTime() ?? 0) > now) reserved += 1;
    else if (message.state === 'scheduled' || message.state === 'deferred') delayed += 1;
    else {
      ready += 1;
      const at = message.enqueuedTimeUtc?.getTime();
      if (at !== undefined && (oldestReadyAt === undefined || at < oldestReadyAt)) oldestReadyAt = at;
    }
  }
  return { queue, ready, delayed, reserved, dead, oldestReadyAt };
}

/**
 * Deletes the ready and delayed messages of a queue: cancels the scheduled ones by sequence number
 * (found by a peek), takes the deferred ones (delayed releases) by sequence number and the ready
 * ones with a receive-and-delete receiver. Locked messages stay. Returns how many jobs were removed
 * (release pointers removed with them are not counted).
 */
export async function purgeQueue(
  client: ServiceBusClient,
  sender: ServiceBusSender,
  management: ServiceBusReceiver,
  queue: string,
  peekLimit: number,
): Promise<number> {
  const peeked = await peekAll(management, peekLimit);
  const scheduled = peeked.filter((message) => message.state === 'scheduled');
  const sequenceNumbers = scheduled.map((message) => Long.fromValue(message.sequenceNumber!));
  if (sequenceNumbers.length > 0) await sender.cancelScheduledMessages(sequenceNumbers);
  let removed = scheduled.filter((message) => pointerTarget(message) === undefined).length;
  const receiver = client.createReceiver(queue, { receiveMode: 'receiveAndDelete', skipParsingBodyAsJson: true });
  try {
    for (const message of peeked.filter((m) => m.state === 'deferred')) {
      try {
        removed += (await receiver.receiveDeferredMessages(Long.fromValue(message.sequenceNumber!))).length;
      } catch (error) {
        // Locked (a delivery holds it, and it stays like other locked messages) or settled since the peek.
        if ((error as { code?: unknown }).code !== 'MessageNotFound') throw error;
      }
    }
    for (;;) {
      const batch = await receiver.receiveMessages(PURGE_BATCH, { maxWaitTimeInMs: 0 });
      if (batch.length === 0) break;
      removed += batch.filter((message) => pointerTarget(message) === undefined).length;
    }
  } finally {
    await receiver.close();
  }
  return removed;
}
