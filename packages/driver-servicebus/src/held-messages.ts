import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { QueueError } from '@queuekit/core';
import { isLockLost, LockDeadlinePassedError, wrapServiceBusError } from './servicebus-errors.js';

/**
 * How long before a lock runs out a renewal must have succeeded, in ms: later, the broker may hand
 * the message out again before the answer is back, so the delivery counts as lost.
 */
const DEADLINE_MARGIN_MS = 200;
/** Pause before a background renewal that failed (its lock still running) is tried again, in ms at most. */
const RETRY_MS = 250;

/** A peek-lock delivery this driver holds. */
export interface HeldMessage {
  readonly lockToken: string;
  readonly queue: string;
  readonly message: ServiceBusReceivedMessage;
  /** The receiver it came from: settling through it keeps the broker's link-bound fast path. */
  readonly receiver: ServiceBusReceiver;
  /** Epoch ms (broker clock) until which the broker holds the lock. */
  lockedUntil: number;
  /** Epoch ms until which the lease was asked for (reserve's or extend's `leaseMs` from then). */
  leaseUntil: number;
  /** Set once a renewal found the lock gone. */
  lost: boolean;
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
   * Renews the lock now; resolves the new lock expiry. Throws the client error (lock lost included)
   * while the lock still runs; once it has run out (less a margin) without a renewal, whether the
   * call failed (a cut connection) or is still out, the delivery is marked lost and this throws
   * LockDeadlinePassedError (a lost lock for {@link isLockLost}): the broker gives the message to
   * another receiver then, and the worker must hear that its lease is gone rather than run on.
   */
  async renew(held: HeldMessage): Promise<number> {
    const leftMs = held.lockedUntil - DEADLINE_MARGIN_MS - Date.now();
    if (held.lost || leftMs <= 0) throw this.#deadlinePassed(held);
    const call = held.receiver.renewMessageLock(held.message);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#deadlinePassed(held)), leftMs);
    });
    try {
      const until = (await Promise.race([call, deadline])).getTime();
      held.lockedUntil = until;
      return until;
    } catch (error) {
      if (error instanceof LockDeadlinePassedError) {
        // The call goes on without a caller: a late failure is still told.
        call.catch((late: unknown) => {
          if (!isLockLost(late))
            this.onBackgroundError(wrapServiceBusError(late, `renewing the lock of a message in ${held.queue}`, held.queue));
        });
        throw error;
      }
      if (isLockLost(error)) held.lost = true;
      else if (Date.now() >= held.lockedUntil - DEADLINE_MARGIN_MS) throw this.#deadlinePassed(held, error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks for the lease to last until `leaseUntil` and re-plans the renewals. */
  extendTo(held: HeldMessage, leaseUntil: number): void {
    held.leaseUntil = leaseUntil;
    this.#schedule(held);
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
      // A lost lock is the lease running out early; the next extend or settle reports it as LeaseLostError.
      if (held.lost) return;
      this.onBackgroundError(wrapServiceBusError(error, `renewing the lock of a message in ${held.queue}`, held.queue));
      // A failure with the lock still running (a cut connection): try again while it runs and the lease wants it.
      if (held.leaseUntil > held.lockedUntil) {
        held.timer = setTimeout(() => void this.#keep(held), Math.min(RETRY_MS, Math.max(1, held.lockedUntil - Date.now()) / 2));
        held.timer.unref();
      }
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
