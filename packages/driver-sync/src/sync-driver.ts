import { randomUUID } from 'node:crypto';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterListOptions,
  type DeadLetterStore,
  type DriverCapabilities,
  DriverClosedError,
  InvalidArgumentError,
  isValidQueueName,
  type JobEnvelope,
  JobExecutor,
  type JobFailure,
  JobRegistry,
  LeaseLostError,
  PayloadSerializer,
  type PushOptions,
  type PushResult,
  type QueueDriver,
  type QueueStats,
  quoteInput,
  type ReleaseOptions,
  type Reservation,
  silentLogger,
  UnsupportedError,
  type WorkerEventMap,
} from '@queuekit/core';
import { BASELINE_CAPABILITIES, deadLetterIds, encodeEnvelope, refuseTransaction } from '@queuekit/core/driver';
import type { SyncDriverOptions } from './sync-options.js';

interface Pending {
  envelope: JobEnvelope;
  /** Runs that failed (settled with release()). */
  attempts: number;
  token: string | undefined;
}

/** Listener for what happens inside an inline run. */
export type SyncEventListener = <K extends keyof WorkerEventMap>(event: K, ...args: WorkerEventMap[K]) => void;

/**
 * Runs each job's whole lifecycle inline inside `push()`: the handler, retries (at once unless
 * `sleepOnRetry`), durable callbacks and dead letters, which stay in memory. It cannot delay (a
 * delayed job runs at once) and holds no lease; it says so in its capabilities.
 */
export class SyncDriver implements QueueDriver {
  readonly name = 'sync';
  readonly capabilities: DriverCapabilities;
  readonly deadLetters: DeadLetterStore;
  readonly #executor: JobExecutor;
  readonly #options: SyncDriverOptions;
  readonly #serializer: PayloadSerializer;
  readonly #queue: Pending[] = [];
  readonly #held = new Map<string, Pending>();
  readonly #dead = new Map<string, DeadLetterEntry>();
  readonly #listeners = new Set<SyncEventListener>();
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(options: SyncDriverOptions) {
    this.#options = options;
    this.#serializer =
      options.serializer ?? new PayloadSerializer(options.maxMessageBytes === undefined ? {} : { maxBytes: options.maxMessageBytes });
    // Jobs run inside push(): nothing is delayed, leased, waited for, looked up, paused or cancelled.
    this.capabilities = Object.freeze({
      ...BASELINE_CAPABILITIES,
      delay: 'none',
      priority: false,
      lease: 'none',
      extend: false,
      bulkPush: true,
      inline: true,
      rewriteOnRelease: true,
      maxMessageBytes: this.#serializer.maxBytes,
    });
    this.#executor = new JobExecutor({
      driver: this,
      registry: options.jobs instanceof JobRegistry ? options.jobs : new JobRegistry(options.jobs),
      logger: options.logger ?? silentLogger,
      emit: (event, ...args) => {
        for (const listener of this.#listeners) listener(event, ...args);
      },
      leaseMs: 60_000,
      ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
      serializer: this.#serializer,
    });
    this.deadLetters = this.#createDeadLetterStore();
  }

  /** Observes lifecycle events of inline runs (completed, failed, retrying, dead-lettered…). */
  onEvent(listener: SyncEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Runs the pushed jobs, and every follow-up they trigger, before resolving. */
  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    this.#assertOpen();
    refuseTransaction(this.name, options);
    for (const envelope of envelopes) {
      if (!isValidQueueName(envelope.queue)) throw new InvalidArgumentError(`sync: invalid queue name ${quoteInput(envelope.queue)}`);
      this.#serializer.assertSize(encodeEnvelope(envelope), `sync: job ${envelope.name}`);
    }
    for (const envelope of envelopes) this.#queue.push({ envelope, attempts: 0, token: undefined });
    // A push from inside a running job (a follow-up) joins the drain already under way.
    if (this.#draining === undefined) {
      this.#draining = this.#drain().finally(() => {
        this.#draining = undefined;
      });
      await this.#draining;
    }
    return { pushed: envelopes.map((e) => e.id), skipped: [] };
  }

  async #drain(): Promise<void> {
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
      item.token = randomUUID();
      this.#held.set(item.token, item);
      const reservation: Reservation = {
        token: item.token,
        id: item.envelope.id,
        queue: item.envelope.queue,
        attempt: item.attempts + 1,
        // Jobs run inside push(): a delivery is never lost to a dead worker.
        lostDeliveries: 0,
        leaseExpiresAt: Number.POSITIVE_INFINITY,
        envelope: item.envelope,
      };
      await this.#executor.execute(reservation);
    }
  }

  /** Never returns work: jobs run inside push(). */
  async reserve(): Promise<Reservation | undefined> {
    this.#assertOpen();
    return undefined;
  }

  async ack(reservation: Reservation): Promise<void> {
    this.#assertOpen();
    this.#held.delete(reservation.token);
  }

  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    this.#assertOpen();
    const item = this.#take(reservation);
    if (options.envelope !== undefined) item.envelope = options.envelope;
    item.attempts += 1;
    if (this.#options.sleepOnRetry === true && options.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    this.#queue.push(item);
  }

  /** Puts jobs handed back unrun at the front of the queue, uncounted; returns how many it held. */
  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    this.#assertOpen();
    const items = reservations.map((reservation) => this.#held.get(reservation.token)).filter((item) => item !== undefined);
    for (const item of items) this.#held.delete(item.token as string);
    this.#queue.unshift(...items);
    return items.length;
  }

  async extend(): Promise<number> {
    this.#assertOpen();
    throw new UnsupportedError('sync: jobs run inline and hold no lease to extend');
  }

  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    this.#assertOpen();
    const item = this.#take(reservation);
    this.#dead.set(item.envelope.id, {
      id: item.envelope.id,
      queue: item.envelope.queue,
      name: item.envelope.name,
      envelope: item.envelope,
      reason: failure.reason,
      error: failure.error,
      attempts: failure.attempts,
      firstFailedAt: failure.firstFailedAt,
      failedAt: failure.failedAt,
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#assertOpen();
    const dead = [...this.#dead.values()].filter((entry) => entry.queue === queue).length;
    return {
      queue,
      ready: this.#queue.filter((item) => item.envelope.queue === queue).length,
      delayed: 0,
      reserved: this.#held.size,
      dead,
      oldestReadyAt: undefined,
    };
  }

  async ping(): Promise<number> {
    this.#assertOpen();
    return 0;
  }

  async purge(queue: string): Promise<number> {
    this.#assertOpen();
    let removed = 0;
    for (let index = this.#queue.length - 1; index >= 0; index -= 1) {
      if (this.#queue[index]?.envelope.queue === queue) {
        this.#queue.splice(index, 1);
        removed += 1;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
  }

  #take(reservation: Reservation): Pending {
    const item = this.#held.get(reservation.token);
    if (item === undefined) throw new LeaseLostError(`sync: reservation ${reservation.token} of job ${reservation.id} is not held`);
    this.#held.delete(reservation.token);
    return item;
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverClosedError('sync: driver is closed');
  }

  #createDeadLetterStore(): DeadLetterStore {
    const dead = this.#dead;
    const matches = (entry: DeadLetterEntry, filter: DeadLetterFilter = {}) =>
      (filter.queue === undefined || entry.queue === filter.queue) &&
      (filter.failedBefore === undefined || entry.failedAt < filter.failedBefore);
    const newestFirst = () => [...dead.values()].sort((a, b) => b.failedAt - a.failedAt);
    const open = () => this.#assertOpen();
    return {
      list: async (options: DeadLetterListOptions = {}) => {
        open();
        const offset = options.offset ?? 0;
        return newestFirst()
          .filter((entry) => matches(entry, options))
          .slice(offset, offset + (options.limit ?? 100));
      },
      get: async (id) => {
        open();
        return dead.get(id);
      },
      retry: async (id) => {
        open();
        const entry = dead.get(id);
        if (entry?.envelope === undefined) return false;
        dead.delete(id);
        const { failure: _failure, ...envelope } = entry.envelope;
        await this.push([{ ...envelope, availableAt: Date.now() }]);
        return true;
      },
      retryAll: async (filter) => {
        open();
        let count = 0;
        for (const entry of newestFirst().filter((e) => matches(e, filter))) {
          if (await this.deadLetters.retry(entry.id)) count += 1;
        }
        return count;
      },
      purge: async (filter) => {
        open();
        let count = 0;
        for (const entry of [...dead.values()]) {
          if (matches(entry, filter)) {
            dead.delete(entry.id);
            count += 1;
          }
        }
        return count;
      },
      purgeIds: async (ids) => {
        open();
        let count = 0;
        for (const id of deadLetterIds('sync', ids)) if (dead.delete(id)) count += 1;
        return count;
      },
      count: async (filter) => {
        open();
        return [...dead.values()].filter((entry) => matches(entry, filter)).length;
      },
    };
  }
}

/** Creates a driver that runs each job inline at push time. */
export function createSyncDriver(options: SyncDriverOptions): SyncDriver {
  return new SyncDriver(options);
}

/** A lazy connection definition for QueueManager and the CLI config. */
export function sync(options: SyncDriverOptions): { readonly driver: 'sync'; create(): SyncDriver } {
  return { driver: 'sync', create: () => new SyncDriver(options) };
}
