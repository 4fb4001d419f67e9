import { DriverError, fromBackend, type QueueError, type Reservation, type ReserveOptions } from '@queuekit/core';
import type { BeanstalkClient, BeanstalkJob, ReserveOutcome } from './client/beanstalk-client.js';
import { statNumber } from './client/reply-parser.js';
import type { Holdings } from './holdings.js';
import type { ReserverPool } from './reserver-pool.js';

/** What claiming needs of the driver. */
export interface ClaimContext {
  readonly pool: ReserverPool;
  readonly holdings: Holdings;
  /** The queue a tube belongs to. */
  readonly queueOf: (tube: string) => string;
  readonly onBackgroundError: (error: QueueError) => void;
}

const ABORTED = Symbol('aborted');

/**
 * Reserving: one connection per waiting reserve, the queue order kept across tubes, and the two
 * delivery counts read from beanstalkd's own per-job statistics.
 *
 * beanstalkd takes from all watched tubes by priority, not by the order of the tubes, so with
 * several queues each is tried in turn without waiting (one round trip per empty queue); only
 * when all are empty does one reserve wait on all of them.
 *
 * The counts: every reserve of a job ends in exactly one of delete, `release` (a failed run: the
 * driver releases for nothing else), `bury` (dead-lettered, or given back: bury then kick), a TTR
 * timeout or the reserving connection closing. The last two are lost deliveries, so
 * `lostDeliveries = reserves - 1 - releases - buries` and `attempt = releases + 1`, both from the
 * `stats-job` of the job, which beanstalkd keeps in its binlog.
 */
export class BeanstalkClaims {
  readonly #c: ClaimContext;

  constructor(context: ClaimContext) {
    this.#c = context;
  }

  /** Claims the next job of `tubes` (in their order) as a held reservation, or undefined. */
  async reserve(tubes: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    const { signal } = options;
    if (signal?.aborted) return undefined;
    const client = this.#c.pool.acquire(tubes);
    let handedOver = false;
    try {
      let job: BeanstalkJob | undefined;
      if (tubes.length > 1) {
        for (const tube of tubes) {
          job = await this.#reserveNow(client, [tube]);
          if (job !== undefined) break;
        }
      }
      if (job === undefined && (tubes.length === 1 || options.waitMs > 0)) {
        const seconds = options.waitMs <= 0 ? 0 : Math.ceil(options.waitMs / 1_000);
        const watched = client.watchOnly(tubes);
        const pending = client.reserveWithTimeout(seconds);
        // Awaited below (or by #abandon); marked handled so a failed watch does not leave it unhandled.
        pending.catch(() => undefined);
        await watched;
        const outcome = signal === undefined || seconds === 0 ? await pending : await raceAbort(pending, signal);
        if (outcome === ABORTED) {
          handedOver = true;
          this.#abandon(client, pending);
          return undefined;
        }
        job = jobOf(outcome, client);
      }
      if (job === undefined) return undefined;
      const reservation = await this.#hold(client, job, options.leaseMs);
      handedOver = reservation !== undefined;
      return reservation;
    } finally {
      if (!handedOver) this.#c.pool.release(client);
    }
  }

  /** Gives a job back unrun through the connection holding it: bury then kick counts as neither. */
  static async giveBackJob(client: BeanstalkClient, jobId: number, priority: number, pipelined: boolean): Promise<boolean> {
    if (pipelined) {
      const [buried, kicked] = await Promise.all([client.bury(jobId, priority), client.kickJob(jobId)]);
      return buried && kicked;
    }
    if (!(await client.bury(jobId, priority))) return false;
    return client.kickJob(jobId);
  }

  async #reserveNow(client: BeanstalkClient, tubes: readonly string[]): Promise<BeanstalkJob | undefined> {
    const [, outcome] = await Promise.all([client.watchOnly(tubes), client.reserveWithTimeout(0)]);
    return jobOf(outcome, client);
  }

  /** Reads the job's counts and TTR, decodes it, and starts holding it. */
  async #hold(client: BeanstalkClient, job: BeanstalkJob, leaseMs: number): Promise<Reservation | undefined> {
    const generation = client.generation;
    const sentAt = Date.now();
    const stats = await client.statsJob(job.id);
    // Gone already: only a delete by another client can do that to a reserved job.
    if (stats === undefined) return undefined;
    const reserves = statNumber(stats, 'reserves');
    const releases = statNumber(stats, 'releases');
    const buries = statNumber(stats, 'buries');
    const ttrMs = statNumber(stats, 'ttr') * 1_000;
    const queue = this.#c.queueOf(stats.get('tube') ?? '');
    const base = {
      token: `${job.id}:${reserves}`,
      queue,
      attempt: releases + 1,
      lostDeliveries: Math.max(0, reserves - 1 - releases - buries),
      leaseExpiresAt: Date.now() + leaseMs,
    };
    let reservation: Reservation;
    try {
      const envelope = fromBackend(job.body);
      reservation = { ...base, id: envelope.id, envelope };
    } catch (error) {
      reservation = { ...base, id: `beanstalk-job-${job.id}`, poison: { raw: job.body.toString('utf8'), error: error as Error } };
    }
    this.#c.holdings.add({
      reservation,
      jobId: job.id,
      priority: statNumber(stats, 'pri'),
      ttrMs,
      client,
      generation,
      // time-left is whole seconds rounded down: the deadline is at least this far off.
      serverDeadline: sentAt + statNumber(stats, 'time-left') * 1_000,
      leaseUntil: reservation.leaseExpiresAt,
      renewing: false,
    });
    return reservation;
  }

  /**
   * A waiting reserve whose caller gave up (its signal aborted): the server still answers it, so
   * the connection stays taken until then, and a job it brings is given back unrun.
   */
  #abandon(client: BeanstalkClient, pending: Promise<ReserveOutcome>): void {
    pending
      .then(async (outcome) => {
        if (typeof outcome !== 'object') return;
        const stats = await client.statsJob(outcome.id);
        const priority = stats === undefined ? 0 : statNumber(stats, 'pri');
        await BeanstalkClaims.giveBackJob(client, outcome.id, priority, true);
      })
      .catch((error: unknown) => {
        this.#c.onBackgroundError(
          new DriverError(`beanstalk: handing back a job reserved for a wait that was abandoned: ${(error as Error).message}`, {
            cause: error,
          }),
        );
      })
      .finally(() => this.#c.pool.release(client));
  }
}

function jobOf(outcome: ReserveOutcome, client: BeanstalkClient): BeanstalkJob | undefined {
  if (typeof outcome === 'object') return outcome;
  if (outcome === 'deadline-soon') {
    // The pool never reserves on a connection that holds a job, so the server has no deadline to warn of.
    throw new DriverError(`beanstalk: reserve on ${client.address}: DEADLINE_SOON on a connection that holds no job`);
  }
  return undefined;
}

function raceAbort<T>(pending: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise<T | typeof ABORTED>((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
