import type { ServiceBusReceivedMessage, ServiceBusReceiver, ServiceBusSender } from '@azure/service-bus';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterListOptions,
  type DeadLetterStore,
  InvalidArgumentError,
  isValidQueueName,
  quoteInput,
  UnsupportedError,
} from '@queuekit/core';
import { deadLetterIds, deadLetterPaging } from '@queuekit/core/driver';
import { peekAll } from './queue-peek.js';
import { deadLetterEntry, envelopeMessage } from './servicebus-message.js';

/** What the store needs from its driver. */
export interface ServiceBusDeadLetterContext {
  /** Queues to search when a call names none: the configured ones plus those this driver used. */
  knownQueues(): readonly string[];
  /** The management receiver of a queue's dead-letter sub-queue. */
  deadLetterReceiver(queue: string): ServiceBusReceiver;
  /** A fresh receiver of the dead-letter sub-queue for taking messages out (closed after use). */
  openDeadLetterTaker(queue: string): ServiceBusReceiver;
  sender(queue: string): ServiceBusSender;
  readonly peekLimit: number;
  run<T>(action: string, fn: () => Promise<T>, queue?: string): Promise<T>;
}

/** Messages taken per receive while retrying or purging. */
const TAKE_BATCH = 100;

/**
 * The native dead-letter sub-queue (`<queue>/$DeadLetterQueue`) as the dead-letter store: list,
 * get and count peek it; retry resends a message to its queue as a fresh job and removes it from
 * the sub-queue; purge removes. Calls without a queue search the known queues.
 */
export class ServiceBusDeadLetterStore implements DeadLetterStore {
  constructor(private readonly ctx: ServiceBusDeadLetterContext) {}

  async list(options: DeadLetterListOptions = {}): Promise<DeadLetterEntry[]> {
    const { limit, offset } = deadLetterPaging('servicebus', options);
    return this.ctx.run('deadLetters.list', async () => {
      const entries = await this.#entries(options);
      return entries.slice(offset, offset + limit);
    });
  }

  async get(id: string): Promise<DeadLetterEntry | undefined> {
    return this.ctx.run('deadLetters.get', async () => (await this.#entries({})).find((entry) => entry.id === id));
  }

  async count(filter: DeadLetterFilter = {}): Promise<number> {
    return this.ctx.run('deadLetters.count', async () => (await this.#entries(filter)).length);
  }

  async retry(id: string): Promise<boolean> {
    return this.ctx.run('deadLetters.retry', async () => {
      const entry = (await this.#entries({})).find((candidate) => candidate.id === id);
      if (entry === undefined) return false;
      if (entry.envelope === undefined) {
        throw new UnsupportedError(
          `servicebus: deadLetters.retry: job ${id} in queue ${entry.queue} has an undecodable body and cannot be retried`,
        );
      }
      return (await this.#take(entry.queue, (candidate) => candidate.id === id && candidate.envelope !== undefined, true)) > 0;
    });
  }

  async retryAll(filter: DeadLetterFilter = {}): Promise<number> {
    return this.ctx.run('deadLetters.retryAll', async () => {
      let retried = 0;
      for (const queue of this.#queues(filter)) {
        retried += await this.#take(queue, (entry) => entry.envelope !== undefined && matches(entry, filter), true);
      }
      return retried;
    });
  }

  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    return this.ctx.run('deadLetters.purge', async () => {
      let purged = 0;
      for (const queue of this.#queues(filter)) purged += await this.#take(queue, (entry) => matches(entry, filter), false);
      return purged;
    });
  }

  async purgeIds(ids: readonly string[]): Promise<number> {
    const wanted = new Set(deadLetterIds('servicebus', ids));
    return this.ctx.run('deadLetters.purgeIds', async () => {
      if (wanted.size === 0) return 0;
      let purged = 0;
      for (const queue of this.#queues({})) purged += await this.#take(queue, (entry) => wanted.has(entry.id), false);
      return purged;
    });
  }

  /** Entries of the filter's queues, most recently failed first. */
  async #entries(filter: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    const all: DeadLetterEntry[] = [];
    for (const queue of this.#queues(filter)) {
      const messages = await peekAll(this.ctx.deadLetterReceiver(queue), this.ctx.peekLimit);
      all.push(...messages.map((message) => deadLetterEntry(queue, message)).filter((entry) => matches(entry, filter)));
    }
    return all.sort((a, b) => b.failedAt - a.failedAt);
  }

  #queues(filter: DeadLetterFilter): readonly string[] {
    if (filter.queue === undefined) return this.ctx.knownQueues();
    if (!isValidQueueName(filter.queue)) throw new InvalidArgumentError(`servicebus: invalid queue name ${quoteInput(filter.queue)}`);
    return [filter.queue];
  }

  /**
   * Takes the matching messages out of a queue's dead-letter sub-queue (resending each to the queue
   * first when `resend`); the others are abandoned back. Returns how many were taken. The resend
   * comes before the removal, so a crash between the two leaves a duplicate, never a loss.
   */
  async #take(queue: string, wanted: (entry: DeadLetterEntry) => boolean, resend: boolean): Promise<number> {
    const receiver = this.ctx.openDeadLetterTaker(queue);
    const kept: ServiceBusReceivedMessage[] = [];
    let taken = 0;
    try {
      for (;;) {
        const batch = await receiver.receiveMessages(TAKE_BATCH, { maxWaitTimeInMs: 0 });
        if (batch.length === 0) break;
        for (const message of batch) {
          const entry = deadLetterEntry(queue, message);
          if (!wanted(entry)) {
            kept.push(message);
            continue;
          }
          if (resend && entry.envelope !== undefined) await this.ctx.sender(queue).sendMessages(envelopeMessage(entry.envelope));
          await receiver.completeMessage(message);
          taken += 1;
        }
      }
      await Promise.all(kept.map((message) => receiver.abandonMessage(message)));
    } finally {
      await receiver.close();
    }
    return taken;
  }
}

function matches(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  return filter.failedBefore === undefined || entry.failedAt < filter.failedBefore;
}
