import { deadLetterIds } from '../driver/dead-letter-paging.js';
import { isValidQueueName } from '../driver/default-capabilities.js';
import type { DeadLetterEntry, DeadLetterFilter, DeadLetterListOptions, DeadLetterStore } from '../driver/queue-driver.js';
import { encodeEnvelope } from '../envelope/job-envelope.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';
import type { MemoryStore } from './memory-store.js';

/** The dead-letter store of a memory driver, over its {@link MemoryStore}. */
export class MemoryDeadLetterStore implements DeadLetterStore {
  constructor(
    private readonly store: MemoryStore,
    private readonly assertOpen: () => void,
  ) {}

  /** Entries, most recently failed first, filtered and paged (default limit 100). */
  async list(options: DeadLetterListOptions = {}): Promise<DeadLetterEntry[]> {
    this.assertOpen();
    validateFilter(options);
    const limit = options.limit ?? 100;
    const offset = options.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgumentError(`memory: limit: expected an integer >= 0, got ${limit}`);
    if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError(`memory: offset: expected an integer >= 0, got ${offset}`);
    return this.store.deadLetters(options).slice(offset, offset + limit);
  }

  /** One entry by job id; `undefined` when there is none. */
  async get(id: string): Promise<DeadLetterEntry | undefined> {
    this.assertOpen();
    return this.store.getDeadLetter(id);
  }

  /** Moves an entry back to its queue as a fresh delivery; false when there is none; throws for poison bodies. */
  async retry(id: string): Promise<boolean> {
    this.assertOpen();
    const entry = this.store.getDeadLetter(id);
    if (entry === undefined) return false;
    this.requeue(entry);
    return true;
  }

  /** Retries every entry matching `filter` except poison bodies; returns how many. */
  async retryAll(filter: DeadLetterFilter = {}): Promise<number> {
    this.assertOpen();
    validateFilter(filter);
    let retried = 0;
    for (const entry of this.store.deadLetters(filter)) {
      if (entry.envelope === undefined) continue;
      this.requeue(entry);
      retried += 1;
    }
    return retried;
  }

  /** Deletes entries matching `filter`; returns how many. */
  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    this.assertOpen();
    validateFilter(filter);
    let purged = 0;
    for (const entry of this.store.deadLetters(filter)) {
      if (this.store.deleteDeadLetter(entry.id)) purged += 1;
    }
    return purged;
  }

  /** Deletes the entries with these ids; returns how many. */
  async purgeIds(ids: readonly string[]): Promise<number> {
    this.assertOpen();
    let purged = 0;
    for (const id of deadLetterIds('memory', ids)) if (this.store.deleteDeadLetter(id)) purged += 1;
    return purged;
  }

  /** How many entries match `filter`. */
  async count(filter: DeadLetterFilter = {}): Promise<number> {
    this.assertOpen();
    validateFilter(filter);
    return this.store.deadLetters(filter).length;
  }

  private requeue(entry: DeadLetterEntry): void {
    if (entry.envelope === undefined) {
      throw new InvalidArgumentError(`memory: dead letter ${entry.id} is an undecodable body (poison) and cannot be retried`);
    }
    const now = this.store.now();
    const envelope = { ...entry.envelope, availableAt: now };
    this.store.deleteDeadLetter(entry.id);
    this.store.insert({
      id: entry.id,
      queue: entry.queue,
      body: encodeEnvelope(envelope),
      priority: envelope.priority,
      availableAt: now,
      seq: this.store.nextSeq(),
      attempts: 0,
      lostDeliveries: 0,
      token: undefined,
      leaseExpiresAt: 0,
      uniqueKey: envelope.uniqueKey,
      ...(envelope.group === undefined ? {} : { group: envelope.group }),
    });
  }
}

function validateFilter(filter: DeadLetterFilter): void {
  if (filter.queue !== undefined && !isValidQueueName(filter.queue)) {
    throw new InvalidArgumentError(`memory: invalid queue name ${quoteInput(filter.queue)}`);
  }
}
