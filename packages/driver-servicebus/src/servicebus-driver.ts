import { setMaxListeners } from 'node:events';
import {
  ServiceBusAdministrationClient,
  ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
} from '@azure/service-bus';
import {
  type DriverCapabilities,
  DriverClosedError,
  InvalidArgumentError,
  isQueueError,
  isValidQueueName,
  type JobEnvelope,
  type JobFailure,
  PayloadTooLargeError,
  type PushOptions,
  type PushResult,
  type QueueDriver,
  type QueueError,
  type QueueStats,
  quoteInput,
  type ReleaseOptions,
  type Reservation,
  type ReserveOptions,
  type SchemaMigrationResult,
} from '@queuekit/core';
import { InFlightCalls, refuseTransaction } from '@queuekit/core/driver';
import Long from 'long';
import { followPointer, type HeldPointer, releaseByDeferral, settlePointer } from './delayed-release.js';
import { HeldMessages } from './held-messages.js';
import { byLockToken, LinkSettlements } from './link-settlements.js';
import { countMessages, purgeQueue, sendEnvelopes } from './queue-operations.js';
import { peekAll, stillThere } from './queue-peek.js';
import { ReceiverPool } from './receiver-pool.js';
import { serviceBusCapabilities } from './servicebus-capabilities.js';
import { ServiceBusDeadLetterStore } from './servicebus-dead-letter-store.js';
import { isLockLost, leaseLostError, wrapServiceBusError } from './servicebus-errors.js';
import { deadLetterProperties, deferredProperties, envelopeBytes, PROPERTY, pointerTarget, reservationOf } from './servicebus-message.js';
import { type ResolvedServiceBusOptions, resolveServiceBusOptions, type ServiceBusDriverOptions } from './servicebus-options.js';
import { parseToken, type SettleTarget } from './settle-target.js';

/** How often a reserve across several queues looks at them again while it waits, in ms. */
const MULTI_QUEUE_POLL_MS = 100;
/** Stale release pointers one receive passes over before it answers, when it was asked not to wait. */
const STALE_POINTERS_PER_RESERVE = 16;
/** The entity ping() peeks when the driver knows no queue yet (a missing entity still answers). */
const PING_ENTITY = 'queuekit-ping';

/**
 * The queuekit driver for Azure Service Bus, on `@azure/service-bus`: queues are Service Bus
 * queues, a lease is a peek-lock (renewed by `extend`), a delayed push is a scheduled message, a
 * delayed release a deferred message brought back by a scheduled pointer, dead
 * letters live in each queue's dead-letter sub-queue. See the package README for the mapping.
 */
export class ServiceBusDriver implements QueueDriver {
  readonly name = 'servicebus';
  readonly capabilities: DriverCapabilities;
  readonly deadLetters: ServiceBusDeadLetterStore;
  readonly #options: ResolvedServiceBusOptions;
  readonly #client: ServiceBusClient;
  readonly #ownsClient: boolean;
  readonly #pool: ReceiverPool;
  readonly #held: HeldMessages;
  readonly #settlements: LinkSettlements;
  readonly #senders = new Map<string, ServiceBusSender>();
  readonly #used = new Set<string>();
  /** Lock tokens this driver completed, so that a second ack is a no-op without a round trip. */
  readonly #completed = new Set<string>();
  readonly #inFlight = new InFlightCalls();
  readonly #closing = new AbortController();
  readonly #onBackgroundError: (error: QueueError) => void;
  #closed = false;

  constructor(options: ServiceBusDriverOptions) {
    this.#options = resolveServiceBusOptions(options);
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new ServiceBusClient(this.#options.connectionString!);
    this.#pool = new ReceiverPool(this.#client);
    // Every waiting reserve listens to the close signal; a worker runs many at once.
    setMaxListeners(0, this.#closing.signal);
    this.#onBackgroundError = options.onBackgroundError ?? (() => undefined);
    this.#held = new HeldMessages(this.#onBackgroundError);
    this.#settlements = new LinkSettlements((queue) => this.#pool.management(queue));
    this.capabilities = serviceBusCapabilities(this.#options.maxMessageBytes);
    this.deadLetters = new ServiceBusDeadLetterStore({
      knownQueues: () => [...new Set([...this.#options.queues, ...this.#used])],
      deadLetterReceiver: (queue) => this.#pool.management(queue, 'deadLetter'),
      openDeadLetterTaker: (queue) =>
        this.#client.createReceiver(queue, { subQueueType: 'deadLetter', maxAutoLockRenewalDurationInMs: 0, skipParsingBodyAsJson: true }),
      sender: (queue) => this.#sender(queue),
      peekLimit: this.#options.peekLimit,
      run: (action, fn, queue) => this.#run(action, fn, queue),
    });
  }

  push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    this.#assertOpen('push');
    refuseTransaction(this.name, options);
    for (const envelope of envelopes) {
      this.#assertQueue(envelope.queue);
      const bytes = envelopeBytes(envelope);
      if (bytes > this.#options.maxMessageBytes) {
        throw new PayloadTooLargeError(
          `servicebus: envelope of job ${envelope.id} is ${bytes} bytes, above maxMessageBytes ${this.#options.maxMessageBytes} (Service Bus standard tier: 256 KiB per message)`,
        );
      }
    }
    return this.#run('push', async () => {
      const byQueue = new Map<string, JobEnvelope[]>();
      for (const envelope of envelopes) byQueue.set(envelope.queue, [...(byQueue.get(envelope.queue) ?? []), envelope]);
      for (const [queue, list] of byQueue) {
        this.#used.add(queue);
        await sendEnvelopes(this.#sender(queue), list).catch((error: unknown) => {
          throw wrapServiceBusError(error, `push to queue ${queue}`, queue);
        });
      }
      return { pushed: envelopes.map((envelope) => envelope.id), skipped: [] };
    });
  }

  reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    this.#assertOpen('reserve');
    if (queues.length === 0) throw new InvalidArgumentError('servicebus: reserve: at least one queue is required');
    for (const queue of queues) this.#assertQueue(queue);
    if (!Number.isFinite(options.leaseMs) || options.leaseMs <= 0) {
      throw new InvalidArgumentError(`servicebus: reserve: leaseMs must be > 0, got ${options.leaseMs}`);
    }
    if (!Number.isFinite(options.waitMs) || options.waitMs < 0) {
      throw new InvalidArgumentError(`servicebus: reserve: waitMs must be >= 0, got ${options.waitMs}`);
    }
    return this.#run('reserve', async () => {
      for (const queue of queues) this.#used.add(queue);
      const signal = options.signal === undefined ? this.#closing.signal : AbortSignal.any([options.signal, this.#closing.signal]);
      if (queues.length === 1) return this.#receiveOne(queues[0]!, options.leaseMs, options.waitMs, signal);
      const deadline = Date.now() + options.waitMs;
      for (;;) {
        for (const queue of queues) {
          const reservation = await this.#receiveOne(queue, options.leaseMs, 0, signal);
          if (reservation !== undefined) return reservation;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0 || signal.aborted) return undefined;
        await sleep(Math.min(remaining, MULTI_QUEUE_POLL_MS), signal);
      }
    });
  }

  /**
   * Receives at most one message of `queue` in peek-lock mode, waiting up to `waitMs`, and holds it.
   * A release pointer received is followed to its deferred message; a stale one is passed over.
   */
  async #receiveOne(queue: string, leaseMs: number, waitMs: number, signal: AbortSignal): Promise<Reservation | undefined> {
    const deadline = Date.now() + waitMs;
    for (let passed = 0; ; passed += 1) {
      if (signal.aborted) return undefined;
      const receiver = this.#pool.borrow(queue);
      let messages: ServiceBusReceivedMessage[];
      try {
        const wait = Math.max(0, deadline - Date.now());
        messages = await receiver.receiveMessages(1, { maxWaitTimeInMs: Math.ceil(wait), abortSignal: signal });
      } catch (error) {
        if (signal.aborted || (error as { name?: unknown }).name === 'AbortError') return undefined;
        throw wrapServiceBusError(error, `reserve from queue ${queue}`, queue);
      } finally {
        this.#pool.giveBack(queue, receiver);
      }
      const message = messages[0];
      if (message === undefined) return undefined;
      const target = pointerTarget(message);
      if (target === undefined) return this.#hold(queue, message, receiver, leaseMs);
      const pointer: HeldPointer = { message, receiver };
      const context = {
        management: this.#pool.management(queue),
        queue,
        settlements: this.#settlements,
        onBackgroundError: this.#onBackgroundError,
      };
      const deferred = await followPointer(context, pointer, target).catch((error: unknown) => {
        throw wrapServiceBusError(error, `reserve from queue ${queue} (following a release pointer)`, queue);
      });
      if (deferred !== undefined) return this.#hold(queue, deferred, this.#pool.management(queue), leaseMs, pointer);
      if (Date.now() >= deadline && passed >= STALE_POINTERS_PER_RESERVE) return undefined;
    }
  }

  #hold(
    queue: string,
    message: ServiceBusReceivedMessage,
    receiver: ServiceBusReceiver,
    leaseMs: number,
    pointer?: HeldPointer,
  ): Reservation {
    const lockToken = message.lockToken ?? '';
    const lockedUntil = message.lockedUntilUtc?.getTime() ?? Date.now();
    const leaseUntil = Date.now() + leaseMs;
    this.#held.add({ lockToken, queue, message, receiver, pointer, lockedUntil, leaseUntil, lost: false, timer: undefined });
    return reservationOf(queue, message, Math.max(lockedUntil, leaseUntil));
  }

  ack(reservation: Reservation): Promise<void> {
    this.#assertOpen('ack');
    return this.#run(
      'ack',
      async () => {
        const target = this.#target(reservation);
        if (this.#completed.has(target.lockToken)) return;
        const pointer = this.#held.get(target.lockToken)?.pointer;
        try {
          if (this.#held.get(target.lockToken)?.lost === true) throw leaseLostError('ack', reservation);
          await this.#settlements.complete(target);
          this.#held.remove(target.lockToken);
          if (pointer !== undefined) await this.#settlePointer(reservation.queue, pointer, 'complete');
        } catch (error) {
          this.#held.remove(target.lockToken);
          if (!isLockLost(error) && !isQueueError(error, 'LEASE_LOST')) throw error;
          // Gone means another delivery completed it: acknowledging a finished job is a no-op.
          if (await stillThere(this.#pool.management(reservation.queue), target.sequenceNumber))
            throw leaseLostError('ack', reservation, error);
        }
        this.#remember(target.lockToken);
      },
      reservation.queue,
    );
  }

  release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    this.#assertOpen('release');
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) {
      throw new InvalidArgumentError(`servicebus: release: delayMs must be >= 0, got ${options.delayMs}`);
    }
    return this.#run(
      'release',
      async () => {
        const target = this.#target(reservation);
        const envelope = options.envelope ?? reservation.envelope;
        if ((options.delayMs === 0 && options.envelope === undefined) || envelope === undefined) {
          // Abandon: the message goes back in its place, its counts written with the abandon.
          await this.#abandon('release', reservation, target, {
            [PROPERTY.failures]: reservation.attempt,
            [PROPERTY.returns]: target.returns + 1,
          });
          return;
        }
        await this.#releaseByDeferral(reservation, target, envelope, options.delayMs);
      },
      reservation.queue,
    );
  }

  /** A delayed (or rewritten) release: see {@link releaseByDeferral}. */
  async #releaseByDeferral(reservation: Reservation, target: SettleTarget, envelope: JobEnvelope, delayMs: number): Promise<void> {
    const held = this.#held.get(target.lockToken);
    if (held !== undefined) this.#held.stopRenewing(held);
    await releaseByDeferral(
      {
        queue: reservation.queue,
        sender: this.#sender(reservation.queue),
        sequenceNumber: target.sequenceNumber,
        onBackgroundError: this.#onBackgroundError,
        renewLastTime: () =>
          this.#settleOrLost(
            'release',
            reservation,
            async () => (held === undefined ? (await target.receiver.renewMessageLock(target.message)).getTime() : this.#held.renew(held)),
            true,
          ),
        defer: (nonce) =>
          this.#settleOrLost('release', reservation, () =>
            this.#settlements.settle(target, (receiver, message) =>
              receiver.deferMessage(
                message,
                deferredProperties(envelope, nonce, { failures: reservation.attempt, returns: target.returns + 1 }),
              ),
            ),
          ),
      },
      delayMs,
    );
    this.#remember(target.lockToken);
    // The pointer that brought this delivery names the release before: it is stale now.
    if (held?.pointer !== undefined) await this.#settlePointer(reservation.queue, held.pointer, 'complete');
  }

  #settlePointer(queue: string, pointer: HeldPointer, how: 'complete' | 'abandon'): Promise<void> {
    return settlePointer({ queue, settlements: this.#settlements, onBackgroundError: this.#onBackgroundError }, pointer, how);
  }

  /**
   * Abandons a delivery with `properties`. A deferred one (brought back by a pointer) stays
   * deferred: its pointer is abandoned after it, and brings it back at once.
   */
  async #abandon(action: string, reservation: Reservation, target: SettleTarget, properties: Record<string, number>): Promise<void> {
    const pointer = this.#held.get(target.lockToken)?.pointer;
    await this.#settleOrLost(action, reservation, () =>
      this.#settlements.settle(target, (receiver, message) => receiver.abandonMessage(message, properties)),
    );
    if (pointer !== undefined) await this.#settlePointer(reservation.queue, pointer, 'abandon');
  }

  giveBack(reservations: readonly Reservation[]): Promise<number> {
    this.#assertOpen('giveBack');
    return this.#run('giveBack', async () => {
      let given = 0;
      for (const reservation of reservations) {
        const target = this.#target(reservation);
        try {
          await this.#abandon('giveBack', reservation, target, { [PROPERTY.returns]: target.returns + 1 });
          given += 1;
        } catch (error) {
          this.#held.remove(target.lockToken);
          // A lease already lost is left alone: its job is with another delivery or back in the queue.
          if (!isLockLost(error) && !isQueueError(error, 'LEASE_LOST'))
            throw wrapServiceBusError(error, `giveBack to queue ${reservation.queue}`, reservation.queue);
        }
      }
      return given;
    });
  }

  extend(reservation: Reservation, leaseMs: number): Promise<number> {
    this.#assertOpen('extend');
    if (!Number.isFinite(leaseMs) || leaseMs <= 0)
      throw new InvalidArgumentError(`servicebus: extend: leaseMs must be > 0, got ${leaseMs}`);
    return this.#run(
      'extend',
      async () => {
        const target = this.#target(reservation);
        const leaseUntil = Date.now() + leaseMs;
        const held = this.#held.get(target.lockToken);
        if (held === undefined) {
          const until = await this.#settleOrLost('extend', reservation, () => target.receiver.renewMessageLock(target.message), true);
          return until.getTime();
        }
        if (held.lost) throw leaseLostError('extend', reservation);
        if (leaseUntil > held.lockedUntil) await this.#settleOrLost('extend', reservation, () => this.#held.renew(held), true);
        this.#held.extendTo(held, leaseUntil);
        return Math.max(held.lockedUntil, leaseUntil);
      },
      reservation.queue,
    );
  }

  deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    this.#assertOpen('deadLetter');
    return this.#run(
      'deadLetter',
      async () => {
        const target = this.#target(reservation);
        const pointer = this.#held.get(target.lockToken)?.pointer;
        await this.#settleOrLost('deadLetter', reservation, () =>
          this.#settlements.settle(target, (receiver, message) => receiver.deadLetterMessage(message, deadLetterProperties(failure))),
        );
        if (pointer !== undefined) await this.#settlePointer(reservation.queue, pointer, 'complete');
      },
      reservation.queue,
    );
  }

  /** Runs a settle step; a lost lock becomes LeaseLostError and the delivery is no longer held. */
  async #settleOrLost<T>(action: string, reservation: Reservation, step: () => Promise<T>, keepHeld = false): Promise<T> {
    const { lockToken } = parseToken(reservation.token);
    const held = this.#held.get(lockToken);
    if (held?.lost === true) {
      this.#held.remove(lockToken);
      throw leaseLostError(action, reservation);
    }
    try {
      const result = await step();
      if (!keepHeld) this.#held.remove(lockToken);
      return result;
    } catch (error) {
      if (isLockLost(error)) {
        this.#held.remove(lockToken);
        throw leaseLostError(action, reservation, error);
      }
      throw error;
    }
  }

  /** Where to settle a reservation: its held message and receiver, or its lock token alone (another driver's delivery). */
  #target(reservation: Reservation): SettleTarget {
    const parsed = parseToken(reservation.token);
    const held = this.#held.get(parsed.lockToken);
    const { queue } = reservation;
    if (held !== undefined) return { ...parsed, queue, message: held.message, receiver: held.receiver };
    return { ...parsed, queue, message: byLockToken(parsed.lockToken), receiver: this.#pool.management(queue) };
  }

  #remember(lockToken: string): void {
    this.#completed.add(lockToken);
    // A bounded memory of recent acknowledgements is enough for the double-ack no-op.
    if (this.#completed.size > 10_000) this.#completed.delete(this.#completed.values().next().value!);
  }

  stats(queue: string): Promise<QueueStats> {
    this.#assertOpen('stats');
    this.#assertQueue(queue);
    return this.#run(
      'stats',
      async () => {
        const messages = await peekAll(this.#pool.management(queue), this.#options.peekLimit);
        const dead = await peekAll(this.#pool.management(queue, 'deadLetter'), this.#options.peekLimit);
        return countMessages(queue, messages, dead.length);
      },
      queue,
    );
  }

  ping(): Promise<number> {
    this.#assertOpen('ping');
    return this.#run('ping', async () => {
      const queue = this.#options.queues[0] ?? [...this.#used][0] ?? PING_ENTITY;
      const started = performance.now();
      try {
        await this.#pool.management(queue).peekMessages(1, { fromSequenceNumber: Long.ZERO });
      } catch (error) {
        // The namespace answered that the entity is missing: that is a round trip all the same.
        if ((error as { code?: unknown }).code !== 'MessagingEntityNotFound') throw error;
      }
      return performance.now() - started;
    });
  }

  purge(queue: string): Promise<number> {
    this.#assertOpen('purge');
    this.#assertQueue(queue);
    return this.#run(
      'purge',
      () => purgeQueue(this.#client, this.#sender(queue), this.#pool.management(queue), queue, this.#options.peekLimit),
      queue,
    );
  }

  /**
   * Creates the configured queues (`options.queues`) that do not exist yet, with the configured lock
   * duration and max delivery count, through the administration client (HTTPS, needs a connection
   * string with Manage rights). Existing queues are left as they are.
   */
  migrate(): Promise<SchemaMigrationResult> {
    this.#assertOpen('migrate');
    const { connectionString, queues, lockDurationMs, maxDeliveryCount } = this.#options;
    if (connectionString === undefined) {
      throw new InvalidArgumentError(
        'servicebus: migrate: needs connectionString (the administration client cannot use a ServiceBusClient)',
      );
    }
    return this.#run('migrate', async () => {
      const admin = new ServiceBusAdministrationClient(connectionString);
      let created = 0;
      for (const queue of queues) {
        if (await admin.queueExists(queue)) continue;
        await admin.createQueue(queue, { lockDuration: `PT${lockDurationMs / 1000}S`, maxDeliveryCount });
        created += 1;
      }
      return { from: created > 0 ? 0 : 1, to: 1, applied: created > 0 ? [1] : [] };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    await this.#inFlight.drained();
    this.#held.clear();
    await Promise.allSettled([...this.#senders.values()].map((sender) => sender.close()));
    await this.#pool.close();
    if (this.#ownsClient) await this.#client.close();
  }

  #sender(queue: string): ServiceBusSender {
    let sender = this.#senders.get(queue);
    if (sender === undefined) {
      sender = this.#client.createSender(queue);
      this.#senders.set(queue, sender);
    }
    return sender;
  }

  #assertQueue(queue: string): void {
    if (typeof queue !== 'string' || !isValidQueueName(queue))
      throw new InvalidArgumentError(`servicebus: invalid queue name ${quoteInput(queue)}`);
  }

  #assertOpen(action: string): void {
    if (this.#closed) throw new DriverClosedError(`servicebus: ${action}: the driver is closed`);
  }

  /** Runs one call: refused after close, tracked so close() can wait for it, client errors wrapped. */
  async #run<T>(action: string, fn: () => Promise<T>, queue?: string): Promise<T> {
    this.#assertOpen(action);
    try {
      return await this.#inFlight.track(fn);
    } catch (error) {
      throw isQueueError(error) ? (error as QueueError) : wrapServiceBusError(error, action, queue);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Creates a Service Bus driver; see {@link ServiceBusDriverOptions}. */
export function createServiceBusDriver(options: ServiceBusDriverOptions): ServiceBusDriver {
  return new ServiceBusDriver(options);
}
