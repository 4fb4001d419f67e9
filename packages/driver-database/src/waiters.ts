/** Why a wait ended. */
export type WakeReason = 'notified' | 'timeout' | 'aborted';

interface Waiter {
  readonly queues: readonly string[];
  readonly done: (reason: WakeReason) => void;
}

/**
 * Reserve calls waiting for work, woken one at a time per queue. A woken waiter that claims a job
 * wakes the next one ("passes the baton"), so a burst of jobs fans out to idle workers without
 * every waiter racing for every notification.
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
      const onAbort = () => waiter.done('aborted');
      const timer = setTimeout(() => waiter.done('timeout'), Math.max(0, timeoutMs));
      const waiter: Waiter = {
        queues,
        done: (reason) => {
          if (!this.#waiting.delete(waiter)) return;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(reason);
        },
      };
      this.#waiting.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
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

  /** How many reserve calls are waiting. */
  get size(): number {
    return this.#waiting.size;
  }
}
