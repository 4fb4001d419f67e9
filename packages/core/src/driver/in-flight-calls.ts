/**
 * The calls a driver has started and not finished, so that `close()` can wait for them before it
 * releases its connections: one way for every driver. `track` counts a call for as long as it runs;
 * `add` counts work started in the background (a give-back no caller awaits) until it settles.
 */
export class InFlightCalls {
  #count = 0;
  #idle: (() => void)[] = [];

  /** How many calls are in flight. */
  get size(): number {
    return this.#count;
  }

  /** Runs `fn`, counted until what it returns settles. */
  async track<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#count += 1;
    try {
      return await fn();
    } finally {
      this.#settled();
    }
  }

  /** Counts `promise` until it settles; its outcome stays the caller's to handle. */
  add(promise: Promise<unknown>): void {
    this.#count += 1;
    promise.then(
      () => this.#settled(),
      () => this.#settled(),
    );
  }

  /** Resolves once no call is in flight (at once when none is); calls started meanwhile are waited for too. */
  drained(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #settled(): void {
    this.#count -= 1;
    if (this.#count === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}
