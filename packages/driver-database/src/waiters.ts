import { onAbort } from '@queuekit/core';

/** Why a wait ended. */
export type WakeReason = 'notified' | 'timeout' | 'aborted';

interface Waiter {
  readonly queues: readonly string[];
  readonly done: (reason: WakeReason) => void;
}

/**
 * reserve() and claim() calls waiting for work, woken one at a time per queue. A woken waiter that
 * claims a job wakes the next one ("passes the baton"), so a burst of jobs fans out to idle workers
 * without every waiter racing for every notification. One abort listener per signal however many
 * calls share it (a worker passes one signal to all its slots).
 */
export class Waiters {
  readonly #waiting = new Set<Waiter>();

  /** Waits until woken for one of `queues`, `timeoutMs` passes, or `signal` aborts. */
  wait(queues: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve('aborted');
        return;
      }
      const timer = setTimeout(() => waiter.done('timeout'), Math.max(0, timeoutMs));
      let stopOnAbort: (() => void) | undefined;
      const waiter: Waiter = {
        queues,
        done: (reason) => {
          if (!this.#waiting.delete(waiter)) return;
          clearTimeout(timer);
          stopOnAbort?.();
          resolve(reason);
        },
      };
      this.#waiting.add(waiter);
      if (signal !== undefined) stopOnAbort = onAbort(signal, () => waiter.done('aborted'));
    });
  }

  /** Wakes the longest-waiting waiter interested in `queue`; returns false when none waits. */
  wakeOne(queue: string): boolean {
    for (const waiter of this.#waiting) {
      if (waiter.queues.includes(queue)) {
        waiter.done('notified');
        return true;
      }
    }
    return false;
  }

  /** Wakes every waiter (reconnects, close). */
  wakeAll(): void {
    for (const waiter of [...this.#waiting]) waiter.done('notified');
  }

  /** How many calls are waiting. */
  get size(): number {
    return this.#waiting.size;
  }
}
