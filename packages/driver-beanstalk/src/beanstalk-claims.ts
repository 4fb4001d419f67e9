import { DriverError, type JobEnvelope, type QueueError, type Reservation } from '@queuekit/core';
import { fromBackend } from '@queuekit/core/driver';
import type { BeanstalkClient, BeanstalkJob, ReserveOutcome } from './client/beanstalk-client.js';
import type { JobStats } from './client/reply-parser.js';
import type { Holdings } from './holdings.js';
import type { PausedJob, QueuePause } from './queue-pause.js';
import type { ReserverPool } from './reserver-pool.js';

/** What claiming needs of the driver. */
export interface ClaimContext {
  readonly pool: ReserverPool;
  readonly holdings: Holdings;
  /** Pause markers: a claim hands back what it reserved from a paused queue. */
  readonly pause: QueuePause;
  /** The queue a tube belongs to. */
  readonly queueOf: (tube: string) => string;
  readonly onBackgroundError: (error: QueueError) => void;
}

/** What a claim asks for. */
export interface ClaimRequest {
  readonly tubes: readonly string[];
  readonly leaseMs: number;
  /** At most this many jobs. */
  readonly max: number;
  /** Wait up to this long for the first job when none is ready (0: do not wait). */
  readonly waitMs: number;
  readonly signal?: AbortSignal | undefined;
}

const ABORTED = Symbol('aborted');

/**
 * Jobs claimed per connection in one go. beanstalkd answers one command per connection per turn of
 * its event loop, so a long pipeline on one connection is slow where short ones on several
 * connections are answered side by side.
 */
export const CLAIM_CHUNK = 8;
/** Connections one claim spreads over at most. */
const MAX_CLAIM_CONNECTIONS = 16;
/**
 * A reserve answered within its job's TTR less this margin cannot be stale: the TTR started on the
 * server after the command was sent. Past it, a `touch` proves the job is still the connection's.
 * (beanstalkd's own safety margin is 1 s.)
 */
const STALE_MARGIN_MS = 1_500;

/**
 * Claiming: up to n jobs per call, pipelined on one connection, the queue order kept across tubes,
 * and the two delivery counts read from beanstalkd's own per-job statistics.
 *
 * beanstalkd takes from all watched tubes by priority, not by the order of the tubes, so with
 * several queues each is tried in turn without waiting (one round trip per empty queue), stopping
 * at the first that has work; only when all are empty does one reserve wait on all of them.
 *
 * The counts: every reserve of a job ends in exactly one of delete, `release` (a failed run: the
 * driver releases for nothing else), `bury` (dead-lettered, or given back: bury then kick), a TTR
 * timeout or the reserving connection closing. The last two are lost deliveries, so
 * `lostDeliveries = reserves - 1 - releases - buries` and `attempt = releases + 1`, both from the
 * `stats-job` of each job (pipelined: one round trip for all jobs of a claim), which beanstalkd
 * keeps in its binlog.
 */
export class BeanstalkClaims {
  readonly #c: ClaimContext;
  #backlog = false;

  constructor(context: ClaimContext) {
    this.#c = context;
  }

  /**
   * Claims on connections of its own that hold nothing, waiting for the first job if asked. More
   * than {@link CLAIM_CHUNK} jobs of one queue are claimed on several connections side by side;
   * the result is in claim order (priority, then put order) either way.
   */
  async claim(request: ClaimRequest): Promise<Reservation[]> {
    const { signal } = request;
    if (signal?.aborted) return [];
    if (request.max > CLAIM_CHUNK && request.tubes.length === 1) {
      const chunks = Math.min(MAX_CLAIM_CONNECTIONS, Math.ceil(request.max / CLAIM_CHUNK));
      const sizes = Array.from({ length: chunks }, (_, i) => Math.floor(request.max / chunks) + (i < request.max % chunks ? 1 : 0));
      const parts = await Promise.all(sizes.map((max) => this.#claimOne({ ...request, max, waitMs: 0 })));
      const claimed = this.inClaimOrder(parts.flat());
      if (claimed.length > 0 || request.waitMs <= 0) return claimed;
      return this.#claimOne({ ...request, max: 1 });
    }
    return this.#claimOne(request);
  }

  async #claimOne(request: ClaimRequest): Promise<Reservation[]> {
    const { signal } = request;
    const client = this.#c.pool.acquire(request.tubes);
    let handedOver = false;
    try {
      // One waiting reserve returns at once when a job is ready: no need to try without waiting first.
      const waitAtOnce = request.tubes.length === 1 && request.max === 1 && request.waitMs > 0;
      let { jobs, tubes, sentAt } = waitAtOnce
        ? { jobs: [], tubes: request.tubes, sentAt: performance.now() }
        : await this.#reserveNow(client, request.tubes, request.max);
      if (jobs.length === 0 && request.waitMs > 0) {
        const seconds = Math.ceil(request.waitMs / 1_000);
        const watched = client.watchOnly(request.tubes);
        sentAt = performance.now();
        const pending = client.reserveWithTimeout(seconds);
        // Awaited below (or by #abandon); marked handled so a failed watch does not leave it unhandled.
        pending.catch(() => undefined);
        await watched;
        const outcome = signal === undefined ? await pending : await raceAbort(pending, signal);
        if (outcome === ABORTED) {
          handedOver = true;
          this.#abandon(client, pending);
          return [];
        }
        jobs = typeof outcome === 'object' ? [outcome] : [];
        tubes = request.tubes;
      }
      return await this.#hold(client, jobs, tubes, request.leaseMs, sentAt);
    } finally {
      if (!handedOver) this.#c.pool.done(client);
    }
  }

  /**
   * Claims without waiting on a connection the caller uses already (it may hold jobs: the reserves
   * go out behind the caller's own commands, in one write).
   */
  async claimOn(client: BeanstalkClient, tubes: readonly string[], max: number, leaseMs: number): Promise<Reservation[]> {
    const reserved = await this.#reserveNow(client, tubes, max);
    return this.#hold(client, reserved.jobs, reserved.tubes, leaseMs, reserved.sentAt);
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

  /**
   * Up to `max` ready jobs of the first of `tubes` that has any, without waiting, with the tube(s)
   * they came from and when (performance.now()) their reserves were sent.
   */
  async #reserveNow(
    client: BeanstalkClient,
    tubes: readonly string[],
    max: number,
  ): Promise<{ jobs: BeanstalkJob[]; tubes: readonly string[]; sentAt: number }> {
    for (const tube of tubes.length === 1 ? [tubes] : tubes.map((t) => [t])) {
      const sentAt = performance.now();
      // DEADLINE_SOON: a job held on this connection is in its last second; none is taken now.
      const [, jobs] = await Promise.all([client.watchOnly(tube), client.reserveReady(max)]);
      // A claim of one job that got it says nothing about a backlog.
      if (max > 1) this.#backlog = jobs.length === max;
      if (jobs.length > 0) return { jobs, tubes: tube, sentAt };
    }
    return { jobs: [], tubes: [], sentAt: performance.now() };
  }

  /**
   * True when the latest claim that did not wait got every job it asked for: the queues have a
   * backlog. Only decides how claims are spread over connections (see BeanstalkSettle.ackAndClaim).
   */
  get backlog(): boolean {
    return this.#backlog;
  }

  /** Reservations of held jobs in beanstalkd's own order: priority, then job id (put order). */
  inClaimOrder(reservations: readonly Reservation[]): Reservation[] {
    const key = (r: Reservation) => this.#c.holdings.get(r);
    return [...reservations].sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      if (x === undefined || y === undefined) return 0;
      return x.priority - y.priority || x.jobId - y.jobId;
    });
  }

  /**
   * Reads the counts and TTR of `jobs` and the pause markers of the `tubes` they came from (one
   * round trip), proves the jobs whose answer may be stale are still this connection's, hands back
   * the jobs of paused queues, and decodes and starts holding the rest.
   *
   * A reserve's answer can be read long after beanstalkd sent it: a process paused (SIGSTOP, a
   * frozen VM) while its reserve waited gets the job, its TTR runs out, another worker reserves
   * it, and the paused process reads the stale answer when it wakes. An answer read within the
   * job's TTR (less {@link STALE_MARGIN_MS}) of sending the reserve (`reservedAt`,
   * performance.now()) cannot be stale; for the others a `touch` answers TOUCHED only on the
   * connection that holds the job now, so a job it refuses is not taken.
   */
  async #hold(
    client: BeanstalkClient,
    jobs: readonly BeanstalkJob[],
    tubes: readonly string[],
    leaseMs: number,
    reservedAt: number,
  ): Promise<Reservation[]> {
    if (jobs.length === 0) return [];
    const generation = client.generation;
    const sentAt = Date.now();
    const ids = jobs.map((job) => job.id);
    const [stats, paused] = await Promise.all([client.statsJobs(ids), this.#c.pause.markedAmong(client, tubes)]);
    const sinceReserve = performance.now() - reservedAt;
    // Touches only for answers that may be stale; with none (the usual case) nothing more is awaited.
    let touches: (Promise<boolean> | undefined)[] | undefined;
    stats.forEach((jobStats, index) => {
      if (jobStats === undefined || sinceReserve < jobStats.ttrSeconds * 1_000 - STALE_MARGIN_MS) return;
      touches ??= [];
      touches[index] = client.touch(ids[index] as number);
    });
    const touched = touches === undefined ? undefined : await Promise.all(touches);
    const reservations: Reservation[] = [];
    const handBack: PausedJob[] = [];
    jobs.forEach((job, index) => {
      const jobStats = stats[index];
      // Gone already (only a delete by another client can do that to a reserved job), or no longer ours.
      if (jobStats === undefined || touched?.[index] === false) return;
      const { tube } = jobStats;
      if (paused.size > 0 && paused.has(tube)) {
        handBack.push({ jobId: job.id, priority: jobStats.priority, tube });
        return;
      }
      const reservation = this.#reservation(job, jobStats, leaseMs);
      this.#c.holdings.add({
        reservation,
        jobId: job.id,
        priority: jobStats.priority,
        ttrMs: jobStats.ttrSeconds * 1_000,
        client,
        generation,
        // time-left is whole seconds rounded down: the deadline is at least this far off.
        serverDeadline: sentAt + jobStats.timeLeftSeconds * 1_000,
        leaseUntil: reservation.leaseExpiresAt,
        renewing: false,
      });
      reservations.push(reservation);
    });
    // Reserved from a queue whose native pause was gone (ran out, lost with a restart or with its tube).
    // A hand-back that fails leaves its jobs to the server (a dropped connection gives them back).
    if (handBack.length > 0) {
      await this.#c.pause.handBack(client, handBack).catch((error: unknown) => {
        this.#c.onBackgroundError(
          new DriverError(`beanstalk: handing back jobs reserved from a paused queue: ${(error as Error).message}`, { cause: error }),
        );
      });
    }
    return reservations;
  }

  #reservation(job: BeanstalkJob, stats: JobStats, leaseMs: number): Reservation {
    const { reserves, releases, buries } = stats;
    const token = `${job.id}:${reserves}`;
    const queue = this.#c.queueOf(stats.tube);
    const attempt = releases + 1;
    const lostDeliveries = Math.max(0, reserves - 1 - releases - buries);
    const leaseExpiresAt = Date.now() + leaseMs;
    let envelope: JobEnvelope;
    try {
      envelope = fromBackend(job.body);
    } catch (error) {
      const poison = { raw: job.body.toString('utf8'), error: error as Error };
      return { token, id: `beanstalk-job-${job.id}`, queue, attempt, lostDeliveries, leaseExpiresAt, poison };
    }
    return { token, id: envelope.id, queue, attempt, lostDeliveries, leaseExpiresAt, envelope };
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
        const priority = stats === undefined ? 0 : stats.priority;
        await BeanstalkClaims.giveBackJob(client, outcome.id, priority, true);
      })
      .catch((error: unknown) => {
        this.#c.onBackgroundError(
          new DriverError(`beanstalk: handing back a job reserved for a wait that was abandoned: ${(error as Error).message}`, {
            cause: error,
          }),
        );
      })
      .finally(() => this.#c.pool.done(client));
  }
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
