/**
 * Items held for a while, oldest first: the jobs a Worker claimed ahead for its next free slots.
 * An item nobody takes within `holdMs` is handed to `onExpire` (to give it back).
 * One timer per queue serves every item (a timer per item costs an allocation and two timer-list
 * operations each time, on the hot path of a busy worker).
 */
export class HoldQueue<T> {
  readonly #items: { readonly item: T; readonly until: number }[] = [];
  readonly #holdMs: number;
  readonly #onExpire: (item: T) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(holdMs: number, onExpire: (item: T) => void) {
    this.#holdMs = holdMs;
    this.#onExpire = onExpire;
  }

  /** Items held now. */
  get length(): number {
    return this.#items.length;
  }

  /** Holds `item` for holdMs. */
  push(item: T): void {
    this.#items.push({ item, until: performance.now() + this.#holdMs });
    if (this.#timer === undefined) this.#schedule(this.#holdMs);
  }

  /**
   * Takes the oldest item still within its holdMs, or undefined when none is. Items past their
   * time go to `onExpire` first, as the timer would have done: a process paused (SIGSTOP, a frozen
   * VM) or an event loop stalled past holdMs wakes up with held jobs whose leases may have run out
   * and been claimed by another worker, and must not start them.
   */
  shift(): T | undefined {
    const now = performance.now();
    while (this.#items[0] !== undefined && this.#items[0].until <= now) this.#onExpire(this.#items.shift()!.item);
    return this.#items.shift()?.item;
  }

  /** Takes every item and stops the timer (close()). */
  drain(): T[] {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#items.splice(0).map(({ item }) => item);
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = performance.now();
      while (this.#items[0] !== undefined && this.#items[0].until <= now) this.#onExpire(this.#items.shift()!.item);
      const next = this.#items[0];
      if (next !== undefined) this.#schedule(Math.max(1, next.until - now));
    }, ms);
    this.#timer.unref();
  }
}
