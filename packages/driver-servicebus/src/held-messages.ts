import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { QueueError } from '@queuekit/core';
import { isLockLost, LockDeadlinePassedError, wrapServiceBusError } from './servicebus-errors.js';

/**
 * How long before a lock runs out a renewal must have succeeded, in ms: later, the broker may hand
 * the message out again before the answer is back, so the delivery counts as lost.
 */
const DEADLINE_MARGIN_MS = 200;
/** Pause before a renewal that failed while its lock still runs is tried again, in ms at most. */
const RETRY_MS = 250;

/** A peek-lock delivery this driver holds. */
export interface HeldMessage {
  readonly lockToken: string;
  readonly queue: string;
  readonly message: ServiceBusReceivedMessage;
  /** The receiver it came from: settling through it keeps the broker's link-bound fast path. */
  readonly receiver: ServiceBusReceiver;
  /**
   * For a deferred message brought back by a pointer (a delayed release): the pointer, locked as
   * long as the message, settled after it. Should this holder die, the pointer's lock runs out
   * with the message's and the pointer brings the message back again.
   */
  readonly pointer?: { readonly message: ServiceBusReceivedMessage; readonly receiver: ServiceBusReceiver } | undefined;
  /** Epoch ms (broker clock) until which the broker holds the lock. */
  lockedUntil: number;
  /** Epoch ms until which the lease was asked for (reserve's or extend's `leaseMs` from then). */
  leaseUntil: number;
  /** Set once a renewal found the lock gone, or the lock ran out before a renewal succeeded. */
  lost: boolean;
  /** The renewal in progress, shared by the calls made meanwhile. */
  renewing?: Promise<number> | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The deliveries a driver holds, and the renewals that make a lease longer than the queue's lock
 * duration: Service Bus fixes the lock duration per queue, so a lease that asks for more is held
 * by renewing the lock (half a lock duration before it runs out) until the lease ends. Nothing
 * renews past the lease: a worker that stops extending (hung, or dead with its process) loses the
 * job when the current lock runs out, as the contract wants. This is not the SDK's auto-renewal,
 * which is turned off (`maxAutoLockRenewalDurationInMs: 0`).
 */
export class HeldMessages {
  readonly #held = new Map<string, HeldMessage>();

  constructor(private readonly onBackgroundError: (error: QueueError) => void) {}

  /** Starts holding a delivery until `leaseUntil` (epoch ms). */
  add(held: HeldMessage): void {
    this.#held.set(held.lockToken, held);
    this.#schedule(held);
  }

  /** The held delivery of a lock token, if this driver holds it. */
  get(lockToken: string): HeldMessage | undefined {
    return this.#held.get(lockToken);
  }

  /** Stops holding a delivery (it was settled, or its lock was found lost). */
  remove(lockToken: string): void {
    const held = this.#held.get(lockToken);
    if (held === undefined) return;
    clearTimeout(held.timer);
    this.#held.delete(lockToken);
  }

  /**
   * Renews the lock now; resolves the new lock expiry. A renewal that fails while the lock still
   * runs (a cut connection) is tried again until the lock runs out (less a margin); then, whether
   * the last call failed or is still out, the delivery is marked lost and this throws
   * LockDeadlinePassedError (a lost lock for {@link isLockLost}, the last failure as its cause): the
   * broker gives the message to another receiver then, and the worker must hear at once that its
   * lease is gone rather than run on. A lock the broker reports lost throws that error. Calls made
   * while a renewal is out share it.
   */
  renew(held: HeldMessage): Promise<number> {
    if (held.renewing === undefined) {
      held.renewing = this.#renewInTime(held).finally(() => {
        held.renewing = undefined;
      });
    }
    return held.renewing;
  }

  async #renewInTime(held: HeldMessage): Promise<number> {
    let failure: unknown;
    for (;;) {
      const leftMs = held.lockedUntil - DEADLINE_MARGIN_MS - Date.now();
      if (held.lost || leftMs <= 0) throw this.#deadlinePassed(held, failure);
      const call = held.receiver.renewMessageLock(held.message);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), leftMs);
      });
      try {
        const outcome = await Promise.race([call, deadline]);
        if (outcome === 'deadline') {
          // The call goes on without a caller: a late failure is still told.
          call.catch((late: unknown) => {
            if (!isLockLost(late))
              this.onBackgroundError(wrapServiceBusError(late, `renewing the lock of a message in ${held.queue}`, held.queue));
          });
          throw this.#deadlinePassed(held, failure);
        }
        held.lockedUntil = outcome.getTime();
        this.#renewPointer(held);
        return held.lockedUntil;
      } catch (error) {
        if (error instanceof LockDeadlinePassedError) throw error;
        if (isLockLost(error)) {
          held.lost = true;
          throw error;
        }
        failure = error;
      } finally {
        clearTimeout(timer);
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(RETRY_MS, Math.max(0, held.lockedUntil - DEADLINE_MARGIN_MS - Date.now()))),
      );
    }
  }

  /**
   * Renews the pointer's lock beside the message's, without waiting for it. A pointer whose lock is
   * lost comes back while the message is still locked here and is left for later (the driver's
   * pointer handling): nothing to do here beyond telling other failures.
   */
  #renewPointer(held: HeldMessage): void {
    const { pointer } = held;
    if (pointer === undefined) return;
    pointer.receiver.renewMessageLock(pointer.message).catch((error: unknown) => {
      if (!isLockLost(error))
        this.onBackgroundError(wrapServiceBusError(error, `renewing the lock of a release pointer in ${held.queue}`, held.queue));
    });
  }

  /** Asks for the lease to last until `leaseUntil` and re-plans the renewals. */
  extendTo(held: HeldMessage, leaseUntil: number): void {
    held.leaseUntil = leaseUntil;
    this.#schedule(held);
  }

  /**
   * Plans no renewal from now on (one already out still ends): a delayed release fences on the lock
   * as it stands after its own renewal.
   */
  stopRenewing(held: HeldMessage): void {
    clearTimeout(held.timer);
    held.timer = undefined;
    held.leaseUntil = 0;
  }

  /** Stops every renewal (at close). */
  clear(): void {
    for (const held of this.#held.values()) clearTimeout(held.timer);
    this.#held.clear();
  }

  #schedule(held: HeldMessage): void {
    clearTimeout(held.timer);
    held.timer = undefined;
    if (held.leaseUntil <= held.lockedUntil || held.lost) return;
    const lockMs = Math.max(held.lockedUntil - Date.now(), 0);
    held.timer = setTimeout(() => void this.#keep(held), lockMs / 2);
    held.timer.unref();
  }

  async #keep(held: HeldMessage): Promise<void> {
    if (this.#held.get(held.lockToken) !== held) return;
    try {
      await this.renew(held);
    } catch (error) {
      // The lock is gone (or ran out unrenewed): the lease ran out early; the next extend or
      // settle reports it as LeaseLostError.
      held.lost = true;
      if (!isLockLost(error))
        this.onBackgroundError(wrapServiceBusError(error, `renewing the lock of a message in ${held.queue}`, held.queue));
      return;
    }
    this.#schedule(held);
  }

  /** Marks `held` lost for a lock that ran out unrenewed; `cause`: the renewal's own failure. */
  #deadlinePassed(held: HeldMessage, cause?: unknown): LockDeadlinePassedError {
    held.lost = true;
    return new LockDeadlinePassedError(
      `the lock of a message in ${held.queue} ran out (${new Date(held.lockedUntil).toISOString()}) before a renewal succeeded`,
      cause === undefined ? {} : { cause },
    );
  }
}
