import { hostname } from 'node:os';
import type { QueueDriver, Reservation } from '../driver/queue-driver.js';
import { createEnvelope } from '../envelope/create-envelope.js';
import { isQueueError } from '../errors/queue-error.js';

/** The queue that holds one leased presence job per running `queue work` process. */
export const PRESENCE_QUEUE = 'queuekit.workers';

/** Job name of presence jobs; no worker runs them. */
export const PRESENCE_JOB = 'queuekit.worker-presence';

/** Default lifetime of a presence lease without renewal, in ms. */
export const DEFAULT_PRESENCE_TTL_MS = 30_000;

/** Most stale presence jobs collected in one sweep. */
const SWEEP_LIMIT = 1_000;

/**
 * True when the driver can keep presence: leases that expire and can be extended, and no inline
 * execution. The sync driver cannot (and has no workers to count).
 */
export function supportsPresence(driver: QueueDriver): boolean {
  const c = driver.capabilities;
  return c.lease !== 'none' && c.extend && !c.inline;
}

/**
 * Deletes presence jobs whose worker is gone: they are ready again (never reserved, or their lease
 * ran out), so reserving with no wait finds exactly those; the live ones stay leased.
 */
export async function sweepPresence(driver: QueueDriver): Promise<number> {
  let removed = 0;
  for (let i = 0; i < SWEEP_LIMIT; i += 1) {
    const stale = await driver.reserve([PRESENCE_QUEUE], { leaseMs: 5_000, waitMs: 0 });
    if (stale === undefined) break;
    await driver.ack(stale);
    removed += 1;
  }
  return removed;
}

/**
 * Workers seen within their presence TTL on this backend: the leased presence jobs, after a sweep
 * of the stale ones. Uses only the driver contract (push, reserve, extend, ack, stats).
 */
export async function countWorkers(driver: QueueDriver): Promise<number> {
  await sweepPresence(driver);
  return (await driver.stats(PRESENCE_QUEUE)).reserved;
}

/**
 * A running worker's presence: a job in {@link PRESENCE_QUEUE} that this process keeps leased,
 * extending the lease every third of the TTL, and acknowledges on stop. A process that dies stops
 * extending; its lease runs out and the next sweep removes it.
 */
export class WorkerPresence {
  readonly #driver: QueueDriver;
  readonly #ttlMs: number;
  readonly #onError: (error: Error) => void;
  #reservation: Reservation | undefined;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> = Promise.resolve();

  constructor(driver: QueueDriver, options: { ttlMs?: number; onError: (error: Error) => void }) {
    this.#driver = driver;
    this.#ttlMs = options.ttlMs ?? DEFAULT_PRESENCE_TTL_MS;
    this.#onError = options.onError;
  }

  /** Announces this worker; resolves once it is counted (or the attempt failed and was reported). */
  async start(queues: readonly string[]): Promise<void> {
    try {
      await this.#announce(queues);
      await sweepPresence(this.#driver);
    } catch (error) {
      this.#onError(error as Error);
    }
    this.#timer = setInterval(
      () => {
        this.#renewing = this.#renew(queues);
      },
      Math.max(1_000, Math.floor(this.#ttlMs / 3)),
    );
    this.#timer.unref();
  }

  /** Withdraws this worker's presence. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#renewing;
    const reservation = this.#reservation;
    this.#reservation = undefined;
    if (reservation === undefined) return;
    try {
      await this.#driver.ack(reservation);
    } catch (error) {
      if (!isQueueError(error, 'LEASE_LOST')) this.#onError(error as Error);
    }
  }

  async #announce(queues: readonly string[]): Promise<void> {
    // A sweep in another process may take our job before we reserve it; try a few times.
    for (let attempt = 0; attempt < 3 && this.#reservation === undefined; attempt += 1) {
      const envelope = createEnvelope({
        name: PRESENCE_JOB,
        queue: PRESENCE_QUEUE,
        payload: { pid: process.pid, host: hostname(), queues: [...queues], startedAt: Date.now() },
      });
      await this.#driver.push([envelope]);
      this.#reservation = await this.#driver.reserve([PRESENCE_QUEUE], { leaseMs: this.#ttlMs, waitMs: 1_000 });
    }
  }

  async #renew(queues: readonly string[]): Promise<void> {
    try {
      if (this.#reservation === undefined) {
        await this.#announce(queues);
        return;
      }
      await this.#driver.extend(this.#reservation, this.#ttlMs);
    } catch (error) {
      if (isQueueError(error, 'LEASE_LOST')) {
        // Paused past the TTL and swept: announce again.
        this.#reservation = undefined;
        return;
      }
      this.#onError(error as Error);
    }
  }
}
