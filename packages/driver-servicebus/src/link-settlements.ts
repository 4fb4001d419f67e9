import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';

/** How often a settlement waiting for its link looks whether the link went down meanwhile, in ms. */
const LINK_CHECK_MS = 100;

/** What a settlement settles: a received message and the receiver it came from. */
export interface SettleSubject {
  readonly queue: string;
  readonly message: ServiceBusReceivedMessage;
  readonly receiver: ServiceBusReceiver;
}

/** The AMQP link a message came over, as far as this module reads it (rhea's receiver link). */
interface AmqpLink {
  is_open(): boolean;
}

/**
 * Settles received messages (complete, abandon, defer, dead-letter) with at most one settlement in
 * flight per AMQP link, and never over a link that went down.
 *
 * - One at a time: rhea 3.0.5 (the AMQP library under `@azure/service-bus` 7.9.x) writes the
 *   dispositions a session has due at once as ranges of delivery ids, and never compares the
 *   outcome of a range's second delivery with the first one's. Two settlements of adjacent
 *   deliveries of one link made together went out as one range with the first one's outcome: a
 *   dead-letter made together with the complete of the delivery before it completed the message,
 *   and the SDK resolved the dead-letter as done. Each receiver link has a session of its own, so
 *   waiting for the link's previous settlement to be answered keeps every disposition in a frame
 *   of its own.
 * - Never over a dead link: after a connection loss the SDK attaches the receiver again under the
 *   same name and settles a message of the old link with the old delivery, whose disposition goes
 *   nowhere (and whose delivery id a delivery of the new link reuses). A message whose link is
 *   down is settled by its lock token through the entity's `$management` node instead.
 *
 * A message without a link (a deferred message received by sequence number, or a lock token
 * alone) is settled through `$management` by the SDK itself and needs neither.
 */
export class LinkSettlements {
  readonly #inFlight = new WeakMap<AmqpLink, Promise<void>>();

  /** @param management the `$management` receiver of a queue (settlement by lock token). */
  constructor(private readonly management: (queue: string) => ServiceBusReceiver) {}

  /**
   * Runs `step` (one settlement call) on the subject's receiver and message once no other
   * settlement of its link is in flight, or on the queue's management receiver and the message's
   * lock token when its link is down. Resolves or rejects as `step` does.
   */
  async settle<T>(
    subject: SettleSubject,
    step: (receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) => Promise<T>,
  ): Promise<T> {
    const link = linkOf(subject.message);
    if (link === undefined) return step(subject.receiver, subject.message);
    for (;;) {
      if (!link.is_open()) return step(this.management(subject.queue), byLockToken(subject.message.lockToken ?? ''));
      const previous = this.#inFlight.get(link);
      if (previous === undefined) break;
      await settledOrTimeout(previous, LINK_CHECK_MS);
    }
    const call = step(subject.receiver, subject.message);
    const done = call.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight.set(link, done);
    void done.then(() => {
      if (this.#inFlight.get(link) === done) this.#inFlight.delete(link);
    });
    return call;
  }
}

/**
 * A message that carries only `lockToken`: the SDK settles (or renews) a message without a link
 * through the `$management` node by lock token, and reads nothing else of it.
 */
export function byLockToken(lockToken: string): ServiceBusReceivedMessage {
  return { lockToken, delivery: {}, body: undefined } as unknown as ServiceBusReceivedMessage;
}

function linkOf(message: ServiceBusReceivedMessage): AmqpLink | undefined {
  const link = (message as { delivery?: { link?: Partial<AmqpLink> } }).delivery?.link;
  return typeof link?.is_open === 'function' ? (link as AmqpLink) : undefined;
}

/** Resolves when `promise` has settled or after `ms`, whichever comes first. */
function settledOrTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
