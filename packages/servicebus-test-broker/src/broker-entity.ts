import { randomUUID } from 'node:crypto';
import type { Message } from 'rhea';

/** Settings of one queue of the test broker. */
export interface QueueSettings {
  /** How long a peek-lock delivery stays locked, in ms (Service Bus: the queue's LockDuration). */
  readonly lockDurationMs: number;
  /** Deliveries after which a message moves to the dead-letter sub-queue (Service Bus: MaxDeliveryCount). */
  readonly maxDeliveryCount: number;
}

/** A message held by an entity, with the broker's bookkeeping beside the message as sent. */
export interface StoredMessage {
  readonly sequenceNumber: number;
  /** The message as the client sent it (application properties are updated by abandon and dead-letter). */
  readonly message: Message;
  readonly enqueuedAt: number;
  /** Deliveries that ended without completion (abandoned or lock expired). */
  deliveryCount: number;
  /** Epoch ms at which a scheduled message becomes active; undefined once active. */
  scheduledAt: number | undefined;
  /** The lock of the peek-lock delivery holding it, if any. */
  lock: { readonly token: string; until: number } | undefined;
  /** Deferred: only a receive by sequence number hands it out (an abandon or a lost lock leaves it deferred). */
  deferred: boolean;
}

/** Why a message left for the dead-letter sub-queue. */
export interface DeadLetterInfo {
  readonly reason: string | undefined;
  readonly description: string | undefined;
}

/**
 * One queue (or its dead-letter sub-queue): messages in sequence order, peek-lock locks, scheduled
 * messages. It knows nothing about AMQP links; the broker asks it for the next message and tells
 * it how each delivery was settled.
 */
export class BrokerEntity {
  readonly #messages = new Map<number, StoredMessage>();
  readonly #locks = new Map<string, number>();

  /**
   * @param name the entity path (`queue` or `queue/$DeadLetterQueue`).
   * @param settings lock duration and max delivery count.
   * @param nextSequenceNumber hands out broker-wide sequence numbers.
   * @param deadLetterQueue the entity dead letters go to; undefined for a dead-letter sub-queue itself.
   */
  constructor(
    readonly name: string,
    public settings: QueueSettings,
    private readonly nextSequenceNumber: () => number,
    readonly deadLetterQueue: BrokerEntity | undefined,
  ) {}

  /** Stores a message, active now or scheduled for `scheduledAt`; returns its sequence number. */
  enqueue(message: Message, scheduledAt?: number): number {
    const sequenceNumber = this.nextSequenceNumber();
    const now = Date.now();
    this.#messages.set(sequenceNumber, {
      sequenceNumber,
      message,
      enqueuedAt: now,
      deliveryCount: 0,
      scheduledAt: scheduledAt !== undefined && scheduledAt > now ? scheduledAt : undefined,
      lock: undefined,
      deferred: false,
    });
    return sequenceNumber;
  }

  /** The first active, unlocked message in sequence order, if any. */
  nextAvailable(): StoredMessage | undefined {
    for (const stored of this.#messages.values()) {
      if (stored.lock === undefined && stored.scheduledAt === undefined && !stored.deferred) return stored;
    }
    return undefined;
  }

  /** Locks `stored` for the entity's lock duration and returns the lock token (an RFC 4122 UUID string). */
  lock(stored: StoredMessage): string {
    const token = randomUUID();
    stored.lock = { token, until: Date.now() + this.settings.lockDurationMs };
    this.#locks.set(token, stored.sequenceNumber);
    return token;
  }

  /** Removes a message handed out pre-settled (receive-and-delete). */
  remove(sequenceNumber: number): void {
    this.#messages.delete(sequenceNumber);
  }

  /** The message still locked with `token`, or undefined when the lock was lost (expired or settled). */
  locked(token: string): StoredMessage | undefined {
    const sequenceNumber = this.#locks.get(token);
    if (sequenceNumber === undefined) return undefined;
    const stored = this.#messages.get(sequenceNumber);
    if (stored?.lock?.token !== token || stored.lock.until <= Date.now()) return undefined;
    return stored;
  }

  /** Completes the delivery locked with `token`; false when the lock was lost. */
  complete(token: string): boolean {
    const stored = this.locked(token);
    if (stored === undefined) return false;
    this.#unlock(stored);
    this.#messages.delete(stored.sequenceNumber);
    return true;
  }

  /** Abandons the delivery (delivery count + 1, properties merged); false when the lock was lost. */
  abandon(token: string, propertiesToModify: Record<string, unknown> | undefined): boolean {
    const stored = this.locked(token);
    if (stored === undefined) return false;
    this.#unlock(stored);
    mergeApplicationProperties(stored.message, propertiesToModify);
    this.#countFailedDelivery(stored);
    return true;
  }

  /**
   * Defers the delivery (delivery count + 1, properties merged): it stays in the entity, handed out
   * only by {@link takeDeferred}; false when the lock was lost.
   */
  defer(token: string, propertiesToModify: Record<string, unknown> | undefined): boolean {
    const stored = this.locked(token);
    if (stored === undefined) return false;
    this.#unlock(stored);
    mergeApplicationProperties(stored.message, propertiesToModify);
    stored.deferred = true;
    this.#countFailedDelivery(stored);
    return true;
  }

  /**
   * The deferred messages with these sequence numbers, for a receive by sequence number: all of
   * them, or a refusal naming the first that is missing, not deferred or locked (nothing is taken then).
   */
  deferredMessages(sequenceNumbers: readonly number[]): StoredMessage[] | { readonly refused: string } {
    const found: StoredMessage[] = [];
    for (const sequenceNumber of sequenceNumbers) {
      const stored = this.#messages.get(sequenceNumber);
      if (stored === undefined) return { refused: `message ${sequenceNumber} does not exist in ${this.name}` };
      if (!stored.deferred) return { refused: `message ${sequenceNumber} of ${this.name} is not deferred` };
      if (stored.lock !== undefined) return { refused: `message ${sequenceNumber} of ${this.name} is locked` };
      found.push(stored);
    }
    return found;
  }

  /** Moves the delivery to the dead-letter sub-queue with a reason; false when the lock was lost. */
  deadLetter(token: string, info: DeadLetterInfo, propertiesToModify: Record<string, unknown> | undefined): boolean {
    const stored = this.locked(token);
    if (stored === undefined) return false;
    this.#unlock(stored);
    mergeApplicationProperties(stored.message, propertiesToModify);
    this.#moveToDeadLetter(stored, info);
    return true;
  }

  /** Renews the lock held with `token` for another lock duration; returns the new expiry, or undefined when lost. */
  renew(token: string): number | undefined {
    const stored = this.locked(token);
    if (stored?.lock === undefined) return undefined;
    stored.lock.until = Date.now() + this.settings.lockDurationMs;
    return stored.lock.until;
  }

  /** Cancels scheduled messages; sequence numbers that are not scheduled here are ignored. */
  cancelScheduled(sequenceNumbers: readonly number[]): void {
    for (const sequenceNumber of sequenceNumbers) {
      if (this.#messages.get(sequenceNumber)?.scheduledAt !== undefined) this.#messages.delete(sequenceNumber);
    }
  }

  /** Up to `count` messages (any state) from `fromSequenceNumber` on, in sequence order. */
  peek(fromSequenceNumber: number, count: number): StoredMessage[] {
    const found: StoredMessage[] = [];
    for (const stored of this.#messages.values()) {
      if (found.length >= count) break;
      if (stored.sequenceNumber >= fromSequenceNumber) found.push(stored);
    }
    return found;
  }

  /**
   * Expires locks and activates scheduled messages that came due; resolves whether anything became
   * available (so the broker knows to offer messages to waiting receivers).
   */
  tick(now: number): boolean {
    let changed = false;
    for (const stored of this.#messages.values()) {
      if (stored.lock !== undefined && stored.lock.until <= now) {
        this.#unlock(stored);
        this.#countFailedDelivery(stored);
        changed = true;
      } else if (stored.scheduledAt !== undefined && stored.scheduledAt <= now) {
        stored.scheduledAt = undefined;
        changed = true;
      }
    }
    return changed;
  }

  #unlock(stored: StoredMessage): void {
    if (stored.lock !== undefined) this.#locks.delete(stored.lock.token);
    stored.lock = undefined;
  }

  #countFailedDelivery(stored: StoredMessage): void {
    stored.deliveryCount += 1;
    if (stored.deliveryCount >= this.settings.maxDeliveryCount && this.deadLetterQueue !== undefined) {
      this.#moveToDeadLetter(stored, {
        reason: 'MaxDeliveryCountExceeded',
        description: `Message could not be consumed after ${this.settings.maxDeliveryCount} delivery attempts.`,
      });
    }
  }

  #moveToDeadLetter(stored: StoredMessage, info: DeadLetterInfo): void {
    this.#messages.delete(stored.sequenceNumber);
    if (this.deadLetterQueue === undefined) return;
    const message = { ...stored.message, application_properties: { ...(stored.message.application_properties ?? {}) } };
    if (info.reason !== undefined) message.application_properties.DeadLetterReason = info.reason;
    if (info.description !== undefined) message.application_properties.DeadLetterErrorDescription = info.description;
    this.deadLetterQueue.enqueue(message);
  }
}

/** Applies `properties` to the message's application properties (abandon and dead-letter `propertiesToModify`). */
function mergeApplicationProperties(message: Message, properties: Record<string, unknown> | undefined): void {
  if (properties === undefined || Object.keys(properties).length === 0) return;
  message.application_properties = { ...(message.application_properties ?? {}), ...properties };
}
