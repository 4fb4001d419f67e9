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

/** The settlements of one link: the last exclusive one admitted, and the completes admitted since. */
interface LinkTurns {
  exclusive: Promise<void>;
  readonly completes: Set<Promise<void>>;
}

/**
 * Settles received messages (complete, abandon, defer, dead-letter) so that no two settlements
 * with different outcomes are in flight on one AMQP link at once, and never over a link that went
 * down.
 *
 * - Outcomes apart: rhea 3.0.5 (the AMQP library under `@azure/service-bus` 7.9.x) writes the
 *   dispositions a session has due at once as ranges of delivery ids, and never compares the
 *   outcome (or the properties) of a range's second delivery with the first one's. Two settlements
 *   of adjacent deliveries of one link made together went out as one range with the first one's
 *   outcome: a dead-letter made together with the complete of the delivery before it completed the
 *   message, and the SDK resolved the dead-letter as done. So an abandon, defer or dead-letter
 *   (`settle`) waits until every settlement of its link admitted before it was answered, and
 *   settlements admitted after it wait for it; completes (`complete`), which carry no properties,
 *   may go out together: merged into one range they still each complete their own message. Each
 *   receiver link has a session of its own, so a waiting settlement's disposition goes out in a
 *   frame of its own.
 * - Never over a dead link: after a connection loss the SDK attaches the receiver again under the
 *   same name and settles a message of the old link with the old delivery, whose disposition goes
 *   nowhere (and whose delivery id a delivery of the new link reuses). A message whose link is
 *   down is settled by its lock token through the entity's `$management` node instead.
 *
 * A message without a link (a deferred message received by sequence number, or a lock token
 * alone) is settled through `$management` by the SDK itself and needs neither.
 */
export class LinkSettlements {
  readonly #turns = new WeakMap<AmqpLink, LinkTurns>();

  /** @param management the `$management` receiver of a queue (settlement by lock token). */
  constructor(private readonly management: (queue: string) => ServiceBusReceiver) {}

  /** Completes the subject's message, beside other completes of its link. */
  complete(subject: SettleSubject): Promise<void> {
    return this.#run(subject, (receiver, message) => receiver.completeMessage(message), false);
  }

  /**
   * Runs `step` (one abandon, defer or dead-letter call) on the subject's receiver and message once
   * every settlement of its link admitted before was answered, or on the queue's management
   * receiver and the message's lock token when its link is down. Resolves or rejects as `step` does.
   */
  settle<T>(subject: SettleSubject, step: (receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) => Promise<T>): Promise<T> {
    return this.#run(subject, step, true);
  }

  async #run<T>(
    subject: SettleSubject,
    step: (receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) => Promise<T>,
    exclusive: boolean,
  ): Promise<T> {
    const link = linkOf(subject.message);
    if (link === undefined) return step(subject.receiver, subject.message);
    let turns = this.#turns.get(link);
    if (turns === undefined) {
      turns = { exclusive: Promise.resolve(), completes: new Set() };
      this.#turns.set(link, turns);
    }
    // Admitted now, in call order: what this settlement waits for, and its own turn for later ones.
    const before = exclusive ? Promise.all([turns.exclusive, ...turns.completes]).then(() => undefined) : turns.exclusive;
    let answered!: () => void;
    const turn = new Promise<void>((resolve) => {
      answered = resolve;
    });
    if (exclusive) {
      turns.exclusive = turn;
      turns.completes.clear();
    } else {
      turns.completes.add(turn);
    }
    const completes = turns.completes;
    try {
      while (!(await settledWithin(before, LINK_CHECK_MS))) {
        if (!link.is_open()) break;
      }
      if (!link.is_open()) return await step(this.management(subject.queue), byLockToken(subject.message.lockToken ?? ''));
      return await step(subject.receiver, subject.message);
    } finally {
      completes.delete(turn);
      answered();
    }
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

/** Whether `promise` (which never rejects) settled within `ms`. */
async function settledWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
