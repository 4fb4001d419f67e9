import { randomUUID } from 'node:crypto';
import type { ServiceBusReceivedMessage, ServiceBusReceiver, ServiceBusSender } from '@azure/service-bus';
import type { QueueError } from '@queuekit/core';
import Long from 'long';
import type { LinkSettlements } from './link-settlements.js';
import { sequenceOf } from './queue-peek.js';
import { isLockLost, wrapServiceBusError } from './servicebus-errors.js';
import { deliveryCounts, type PointerTarget, PROPERTY, pointerMessage } from './servicebus-message.js';

/**
 * How long after the lock of a delayed release's delivery runs out its pointer may fall due, in ms:
 * by then the broker has deferred the message or refused the defer (both on the broker's clock).
 */
const FENCE_MARGIN_MS = 1_000;

/** What a delayed release needs of the driver for one delivery. */
export interface DeferralSteps {
  readonly queue: string;
  readonly sender: ServiceBusSender;
  /** The delivery's message sequence number. */
  readonly sequenceNumber: number;
  /**
   * Renews the delivery's lock once more, with no renewal after it; resolves the lock's end (epoch
   * ms, broker clock). A lost lock throws LeaseLostError.
   */
  renewLastTime(): Promise<number>;
  /** Defers the delivery writing `properties` (which name the release by `nonce`); a lost lock throws LeaseLostError. */
  defer(nonce: string): Promise<void>;
  readonly onBackgroundError: (error: QueueError) => void;
}

/**
 * A delayed (or rewritten) release. Service Bus cannot delay or change a message in place, and a
 * copy beside the original could run beside it (the original comes back when the lock runs out
 * between the two steps), so the job stays one message: the lock is renewed a last time (the
 * fence), a pointer is scheduled, then the message is deferred, carrying the counts, the envelope
 * as released and the release's nonce. The pointer brings the message back by its sequence number
 * when due ({@link followPointer}).
 *
 * The first pointer never falls due before the lock has run out: a crash between the steps, or a
 * defer refused, leaves the message undeferred, the pointer finds it so and is dropped, and the
 * message comes back by itself when its lock runs out. A release asking for less gets a second pointer for its due time
 * once the message is deferred, and the first is cancelled (left over, it finds its message
 * locked or settled by then, and at worst brings it back a second time: never two at once).
 */
export async function releaseByDeferral(steps: DeferralSteps, delayMs: number): Promise<void> {
  const { sender } = steps;
  const lockedUntil = await steps.renewLastTime();
  const nonce = randomUUID();
  const pointer = pointerMessage({ sequenceNumber: steps.sequenceNumber, nonce });
  const dueAt = Date.now() + delayMs;
  const fenceEnd = lockedUntil + FENCE_MARGIN_MS;
  const [fencePointer] = await sender.scheduleMessages([pointer], new Date(Math.max(dueAt, fenceEnd)));
  // A failed defer leaves the pointer: whether the broker applied it is not always known (an answer
  // lost with a cut connection, a retried settle refused as already settled), and the pointer,
  // falling due after the lock's end, finds the message deferred by this release or drops itself.
  await steps.defer(nonce);
  if (dueAt < fenceEnd) {
    await sender.scheduleMessages([pointer], new Date(dueAt));
    await cancelPointer(steps, fencePointer);
  }
}

/** Cancels a scheduled pointer; a failure is told, not thrown (a pointer left over finds its release stale). */
async function cancelPointer(steps: DeferralSteps, sequenceNumber: Long | undefined): Promise<void> {
  if (sequenceNumber === undefined) return;
  await steps.sender.cancelScheduledMessages([sequenceNumber]).catch((error: unknown) => {
    steps.onBackgroundError(wrapServiceBusError(error, `cancelling a release pointer in queue ${steps.queue}`, steps.queue));
  });
}

/** A pointer as received, with the receiver that settles it. */
export interface HeldPointer {
  readonly message: ServiceBusReceivedMessage;
  readonly receiver: ServiceBusReceiver;
}

/** What following a pointer needs of the driver. */
export interface PointerContext {
  /** The queue's management receiver: peeks, and receives deferred messages by sequence number. */
  readonly management: ServiceBusReceiver;
  readonly queue: string;
  /** Settles the pointer (see {@link LinkSettlements}). */
  readonly settlements: LinkSettlements;
  readonly onBackgroundError: (error: QueueError) => void;
}

/**
 * Follows a pointer: the deferred message it names, locked, when that message is still deferred by
 * the pointer's release and free; the pointer stays locked (the caller holds it beside the
 * message). Otherwise undefined, and the pointer is
 *
 * - completed when it is stale: the message is gone (settled), deferred by a later release, or not
 *   deferred at all (the release never deferred it: its lock ran out first and the message came
 *   back by itself; a pointer falls due only after the release's lock ended, see the driver);
 * - left locked and unsettled when the message is deferred by its release but locked: another
 *   pointer of the same release brought it to a holder, or a holder that died still has the lock.
 *   The pointer comes back when its own lock runs out and looks again.
 */
export async function followPointer(
  context: PointerContext,
  pointer: HeldPointer,
  target: PointerTarget,
): Promise<ServiceBusReceivedMessage | undefined> {
  const { management } = context;
  const [peeked] = await management.peekMessages(1, { fromSequenceNumber: Long.fromNumber(target.sequenceNumber) });
  const found = peeked !== undefined && sequenceOf(peeked) === target.sequenceNumber ? peeked : undefined;
  if (found === undefined || found.state !== 'deferred' || found.applicationProperties?.[PROPERTY.release] !== target.nonce) {
    await settlePointer(context, pointer, 'complete');
    return undefined;
  }
  let message: ServiceBusReceivedMessage | undefined;
  try {
    [message] = await management.receiveDeferredMessages(Long.fromNumber(target.sequenceNumber));
  } catch (error) {
    // Locked by a holder (or settled since the peek): the pointer looks again when it comes back.
    if ((error as { code?: unknown }).code === 'MessageNotFound') return undefined;
    throw error;
  }
  if (message === undefined) return undefined;
  if (message.applicationProperties?.[PROPERTY.release] === target.nonce) {
    // The pointer was locked first: renewed now, its lock outlasts the message's, so that if this
    // holder dies the pointer comes back when the message is free again.
    await pointer.receiver.renewMessageLock(pointer.message).catch((error: unknown) => {
      if (!isLockLost(error))
        context.onBackgroundError(wrapServiceBusError(error, `renewing the lock of a release pointer in ${context.queue}`, context.queue));
    });
    return message;
  }
  // Deferred again by a later release between the peek and the receive: back it goes, its delivery
  // count raised by the abandon and recorded as a return.
  await management.abandonMessage(message, { [PROPERTY.returns]: deliveryCounts(message).returns + 1 });
  await settlePointer(context, pointer, 'complete');
  return undefined;
}

/**
 * Completes a pointer (its message was settled, or it is stale) or abandons it (its message was
 * handed back: the pointer brings it back at once). A lost lock is left alone: the pointer then
 * comes back and finds its message settled or deferred anew.
 */
export async function settlePointer(
  context: Pick<PointerContext, 'queue' | 'settlements' | 'onBackgroundError'>,
  pointer: HeldPointer,
  how: 'complete' | 'abandon',
): Promise<void> {
  try {
    const subject = { queue: context.queue, ...pointer };
    if (how === 'complete') await context.settlements.complete(subject);
    else await context.settlements.settle(subject, (receiver, message) => receiver.abandonMessage(message));
  } catch (error) {
    if (!isLockLost(error))
      context.onBackgroundError(wrapServiceBusError(error, `settling a release pointer in ${context.queue}`, context.queue));
  }
}
