import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { QueueError } from '@queuekit/core';
import { isLockLost, wrapServiceBusError } from './servicebus-errors.js';

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

  /** Renews the lock now; resolves the new lock expiry. Throws the client error (lock lost included). */
  async renew(held: HeldMessage): Promise<number> {
    const until = (await held.receiver.renewMessageLock(held.message)).getTime();
    held.lockedUntil = until;
    return until;
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
      held.lost = true;
      // A lost lock is the lease running out early; the next settle reports it as LeaseLostError.
      if (!isLockLost(error))
        this.onBackgroundError(wrapServiceBusError(error, `renewing the lock of a message in ${held.queue}`, held.queue));
      return;
    }
    this.#schedule(held);
  }
}
