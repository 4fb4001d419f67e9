import type { ServiceBusClient, ServiceBusReceiver } from '@azure/service-bus';

/**
 * Peek-lock receivers per queue. A Service Bus receiver runs one `receiveMessages()` at a time, so
 * concurrent reserves of one queue each borrow a receiver of their own; a returned receiver stays
 * open for the next borrower (settling a message goes through the receiver that got it, so
 * receivers live until the driver closes). Auto lock renewal is off: leases are the worker's.
 */
export class ReceiverPool {
  readonly #idle = new Map<string, ServiceBusReceiver[]>();
  readonly #all: ServiceBusReceiver[] = [];
  readonly #management = new Map<string, ServiceBusReceiver>();

  constructor(private readonly client: ServiceBusClient) {}

  /** A receiver of `queue` no other reserve is using. */
  borrow(queue: string): ServiceBusReceiver {
    const idle = this.#idle.get(queue);
    const receiver = idle?.pop();
    if (receiver !== undefined) return receiver;
    const created = this.client.createReceiver(queue, {
      receiveMode: 'peekLock',
      maxAutoLockRenewalDurationInMs: 0,
      skipParsingBodyAsJson: true,
    });
    this.#all.push(created);
    return created;
  }

  /** Hands a borrowed receiver back. */
  giveBack(queue: string, receiver: ServiceBusReceiver): void {
    const idle = this.#idle.get(queue) ?? [];
    idle.push(receiver);
    this.#idle.set(queue, idle);
  }

  /**
   * The receiver of `entity` (a queue, or `queue` with `subQueue`) for management calls: peeks,
   * lock renewals and settlements by lock token. These never receive, so one per entity is shared.
   */
  management(queue: string, subQueue?: 'deadLetter'): ServiceBusReceiver {
    const key = subQueue === undefined ? queue : `${queue}/$DeadLetterQueue`;
    let receiver = this.#management.get(key);
    if (receiver === undefined) {
      receiver = this.client.createReceiver(queue, {
        receiveMode: 'peekLock',
        maxAutoLockRenewalDurationInMs: 0,
        skipParsingBodyAsJson: true,
        ...(subQueue === undefined ? {} : { subQueueType: subQueue }),
      });
      this.#management.set(key, receiver);
    }
    return receiver;
  }

  /** Closes every receiver. */
  async close(): Promise<void> {
    const receivers = [...this.#all, ...this.#management.values()];
    this.#idle.clear();
    this.#all.length = 0;
    this.#management.clear();
    await Promise.allSettled(receivers.map((receiver) => receiver.close()));
  }
}
