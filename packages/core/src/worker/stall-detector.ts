/** Options of {@link StallDetector}. */
export interface StallDetectorOptions {
  /** A stall of the event loop at least this long, in ms, counts. */
  readonly thresholdMs: number;
  /** Monotonic clock in ms; default `performance.now`. */
  readonly now?: () => number;
}

/**
 * Notices when this process's event loop stood still (SIGSTOP, a frozen VM, a long GC or a
 * synchronous handler): a timer measures its own lateness. A Worker asks it whether such a stall
 * happened between sending a claim and starting the claimed jobs: the claim's answer may then have
 * waited in a socket while the leases it carries ran out on the server. Measuring the claim's round
 * trip instead would be wrong: a blocking claim legitimately waits up to `waitMs`.
 */
export class StallDetector {
  readonly #thresholdMs: number;
  readonly #periodMs: number;
  readonly #now: () => number;
  #lastTickAt: number;
  /** When the last stall was noticed (the clock's ms); -Infinity when none was. */
  #stallSeenAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: StallDetectorOptions) {
    this.#thresholdMs = options.thresholdMs;
    // Ticks often enough that a tick's own period is small beside the threshold.
    this.#periodMs = Math.max(10, Math.min(250, options.thresholdMs / 4));
    this.#now = options.now ?? (() => performance.now());
    this.#lastTickAt = this.#now();
  }

  /** Starts the timer (unref'd: it keeps no process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#lastTickAt = this.#now();
    this.#timer = setInterval(() => this.#observe(), this.#periodMs);
    this.#timer.unref();
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The present moment, to hand to {@link stalledSince} later. */
  mark(): number {
    return this.#now();
  }

  /**
   * True when the event loop stalled for the threshold or longer after `since` (a {@link mark}),
   * counting a stall that is only ending now: after a pause, an I/O callback (a claim's answer)
   * can run before the timer that would have noticed it.
   */
  stalledSince(since: number): boolean {
    this.#observe();
    return this.#stallSeenAt >= since;
  }

  #observe(): void {
    const now = this.#now();
    if (this.#timer !== undefined && now - this.#lastTickAt - this.#periodMs >= this.#thresholdMs) this.#stallSeenAt = now;
    this.#lastTickAt = now;
  }
}
