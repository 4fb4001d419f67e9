import {
  type AckAndClaimOptions,
  type AckAndClaimResult,
  type ClaimOptions,
  type DriverCapabilities,
  DriverClosedError,
  DriverError,
  InvalidArgumentError,
  isQueueError,
  type JobEnvelope,
  type JobFailure,
  PayloadTooLargeError,
  type PushOptions,
  type PushResult,
  type QueueDriver,
  type QueueError,
  type QueueStats,
  type ReleaseOptions,
  type Reservation,
  type ReserveOptions,
} from '@queuekit/core';
import { BASELINE_CAPABILITIES, encodeEnvelope, InFlightCalls, refuseTransaction } from '@queuekit/core/driver';
import { BeanstalkClaims } from './beanstalk-claims.js';
import { BeanstalkDeadLetterStore } from './beanstalk-dead-letter-store.js';
import { type BeanstalkDriverOptions, type ResolvedBeanstalkOptions, resolveBeanstalkOptions } from './beanstalk-options.js';
import { BeanstalkSettle, delaySeconds } from './beanstalk-settle.js';
import { BeanstalkClient } from './client/beanstalk-client.js';
import { statNumber } from './client/reply-parser.js';
import { Holdings, isKept, leaseLost } from './holdings.js';
import { isPaused, QueuePause } from './queue-pause.js';
import { ReserverPool } from './reserver-pool.js';
import { Tubes } from './tubes.js';

/** Most jobs one claim takes (they are reserved in one write on one connection). */
const MAX_CLAIM = 1_000;

/**
 * The beanstalkd driver: tubes are queues, with beanstalkd's own priority, delay, TTR (renewed by
 * `touch` while the worker's lease lasts) and bury. It speaks the protocol through its own client
 * (src/client): one connection for producing and administration, and a pool of connections for
 * reserving (see ReserverPool: a job is settled on the connection that reserved it, and a waiting
 * reserve gets a connection of its own). Claiming lives in beanstalk-claims.ts, settling in
 * beanstalk-settle.ts, leases in holdings.ts, dead letters in beanstalk-dead-letter-store.ts,
 * pause and resume in queue-pause.ts.
 */
export class BeanstalkDriver implements QueueDriver {
  readonly name = 'beanstalk';
  readonly capabilities: DriverCapabilities;
  readonly deadLetters: BeanstalkDeadLetterStore;
  readonly #options: ResolvedBeanstalkOptions;
  readonly #tubes: Tubes;
  readonly #admin: BeanstalkClient;
  readonly #pool: ReserverPool;
  readonly #holdings: Holdings;
  readonly #claims: BeanstalkClaims;
  readonly #settle: BeanstalkSettle;
  readonly #pause: QueuePause;
  readonly #onBackgroundError: (error: QueueError) => void;
  readonly #inFlight = new InFlightCalls();
  /** The server's `max-job-size`, read on every connect of the admin connection. */
  #serverMaxJobBytes: number | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(options: BeanstalkDriverOptions = {}) {
    this.#options = resolveBeanstalkOptions(options);
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    this.#tubes = new Tubes(this.#options.tubePrefix);
    this.capabilities = Object.freeze({
      ...BASELINE_CAPABILITIES,
      delay: 'native',
      lease: 'native',
      blockingReserve: true,
      deadLetter: 'native',
      bulkPush: true,
      batch: true,
      // Lookup (and with it retention, progress and cancel, which are seen through lookups) is
      // missing: beanstalkd finds a job only by the numeric id it gives at put, which a queuekit id
      // does not carry, and lists a tube's jobs only by reserving them. A side index would cost a
      // put per push and a delete per ack, the lease holder a write per claim, and listing a state
      // would read every job of the queue; a job's body cannot change, so progress has nowhere to go.
      lookup: false,
      retention: false,
      progress: false,
      cancel: false,
      // Native pause-tube, made durable by a marker job (see queue-pause.ts).
      pause: true,
      // reserve takes the next job of the watched tubes; it cannot pass over a busy group.
      groups: false,
      maxMessageBytes: this.#options.maxJobBytes,
    } satisfies DriverCapabilities);
    this.#admin = this.#client(true, async (client) => {
      const stats = await client.stats();
      this.#serverMaxJobBytes = statNumber(stats, 'max-job-size');
    });
    this.#pool = new ReserverPool(() => this.#client(false));
    this.#pause = new QueuePause(this.#admin, this.#tubes);
    this.#holdings = new Holdings(this.#pool, this.#onBackgroundError);
    this.deadLetters = new BeanstalkDeadLetterStore({
      admin: this.#admin,
      pool: this.#pool,
      tubes: this.#tubes,
      maxJobBytes: () => this.#maxJobBytes(),
      ttrSeconds: this.#options.ttrSeconds,
      run: (action, fn) => this.#run(action, fn),
    });
    this.#claims = new BeanstalkClaims({
      pool: this.#pool,
      holdings: this.#holdings,
      pause: this.#pause,
      queueOf: (tube) => this.#queueOf(tube),
      onBackgroundError: this.#onBackgroundError,
    });
    this.#settle = new BeanstalkSettle({
      holdings: this.#holdings,
      pool: this.#pool,
      claims: this.#claims,
      admin: this.#admin,
      deadLetters: this.deadLetters,
    });
  }

  /** Where the driver connects (`host:port`). */
  get address(): string {
    return this.#admin.address;
  }

  /** Connections made for reserving and holding jobs. */
  get reserverConnections(): number {
    return this.#pool.size;
  }

  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    this.#assertOpen();
    refuseTransaction('beanstalk', options);
    return this.#run('push', async () => {
      // Everything is checked before anything is sent, so bad input stores nothing.
      if (!this.#admin.isOpen) await this.#admin.connect();
      const limit = this.#maxJobBytes();
      const jobs = envelopes.map((envelope) => {
        const tube = this.#tubes.of(envelope.queue);
        const body = Buffer.from(encodeEnvelope(envelope));
        if (body.length > limit) {
          throw new PayloadTooLargeError(
            `beanstalk: job ${envelope.id} (queue ${envelope.queue}) is ${body.length} bytes, above the ${limit}-byte limit ` +
              `(${limit === this.#serverMaxJobBytes ? "the server's max-job-size, beanstalkd -z" : 'the maxJobBytes option'}); nothing was sent`,
          );
        }
        return { envelope, tube, body };
      });
      const now = Date.now();
      const puts: Promise<unknown>[] = [];
      // Sent in one go: each `use` only where the tube changes, all on one connection, in order.
      for (const { envelope, tube, body } of jobs) {
        puts.push(this.#admin.use(tube));
        puts.push(this.#admin.put(envelope.priority, delaySeconds(envelope.availableAt - now), this.#options.ttrSeconds, body));
      }
      await Promise.all(puts);
      return { pushed: envelopes.map((e) => e.id), skipped: [] };
    });
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    const tubes = this.#checkClaim('reserve', queues, options.leaseMs, 1);
    return this.#run('reserve', async () => {
      const [reservation] = await this.#claims.claim({
        tubes,
        leaseMs: options.leaseMs,
        max: 1,
        waitMs: options.waitMs,
        signal: options.signal,
      });
      return reservation;
    });
  }

  async claim(queues: readonly string[], options: ClaimOptions): Promise<Reservation[]> {
    const tubes = this.#checkClaim('claim', queues, options.leaseMs, options.max);
    return this.#run('claim', () =>
      this.#claims.claim({ tubes, leaseMs: options.leaseMs, max: options.max, waitMs: options.waitMs, signal: options.signal }),
    );
  }

  async ackAndClaim(acks: readonly Reservation[], queues: readonly string[], options: AckAndClaimOptions): Promise<AckAndClaimResult> {
    const tubes = this.#checkClaim('ackAndClaim', queues, options.leaseMs, options.max, 0);
    return this.#run('ackAndClaim', () => this.#settle.ackAndClaim(acks, tubes, options.leaseMs, options.max));
  }

  extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | undefined)[]> {
    return this.#run('extendMany', () => this.#settle.extendMany(reservations, leaseMs));
  }

  ack(reservation: Reservation): Promise<void> {
    return this.#run('ack', () => this.#settle.ack(reservation));
  }

  release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    return this.#run('release', () => this.#settle.release(reservation, options.delayMs));
  }

  giveBack(reservations: readonly Reservation[]): Promise<number> {
    return this.#run('giveBack', () => this.#settle.giveBack(reservations));
  }

  extend(reservation: Reservation, leaseMs: number): Promise<number> {
    return this.#run('extend', () => this.#settle.extend(reservation, leaseMs));
  }

  /**
   * Refuses, with LeaseLostError, a delivery whose job this driver knows it no longer holds when the
   * worker is about to run it: the connection that reserved it closed (a server restart, a cut), and
   * beanstalkd hands a closed connection's jobs out again at once, so running it here would run it
   * twice at the same time. A job the worker held ahead for a free slot meets this most.
   */
  aroundExecution<T>(reservation: Reservation, run: () => Promise<T>): Promise<T> {
    const job = this.#holdings.get(reservation);
    if (job !== undefined && !isKept(job)) {
      this.#holdings.take(reservation);
      return Promise.reject(leaseLost('run', reservation));
    }
    return run();
  }

  deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    return this.#run('deadLetter', () => this.#settle.deadLetter(reservation, failure));
  }

  async stats(queue: string): Promise<QueueStats> {
    const tube = this.#tubes.of(queue);
    return this.#run('stats', async () => {
      const [stats, markerStats] = await this.#admin.statsTubes([tube, this.#tubes.markerOf(tube)]);
      const paused = isPaused(stats, markerStats);
      if (stats === undefined) return { queue, ready: 0, delayed: 0, reserved: 0, dead: 0, oldestReadyAt: undefined, paused };
      const ready = statNumber(stats, 'current-jobs-ready');
      return {
        queue,
        ready,
        delayed: statNumber(stats, 'current-jobs-delayed'),
        reserved: statNumber(stats, 'current-jobs-reserved'),
        dead: statNumber(stats, 'current-jobs-buried'),
        oldestReadyAt: ready === 0 ? undefined : await this.#nextReadyAt(tube),
        paused,
      };
    });
  }

  /**
   * Stops claims from `queue` in every process on this server until {@link resume}: a marker job
   * keeps the pause (binlog included) and beanstalkd's `pause-tube` enforces it. Jobs can still be
   * pushed. Idempotent.
   */
  async pause(queue: string): Promise<void> {
    const tube = this.#tubes.of(queue);
    return this.#run('pause', () => this.#pause.pause(queue, tube));
  }

  /** Lets claims take jobs from `queue` again, waking reserves waiting on it. Idempotent. */
  async resume(queue: string): Promise<void> {
    const tube = this.#tubes.of(queue);
    return this.#run('resume', () => this.#pause.resume(tube));
  }

  /**
   * When the next ready job of `tube` (by priority, then age) was put: beanstalkd keeps no ready-since
   * time, and its `age` is whole seconds, so this is to the second.
   */
  async #nextReadyAt(tube: string): Promise<number | undefined> {
    const [, job] = await Promise.all([this.#admin.use(tube), this.#admin.peekReady()]);
    if (job === undefined) return undefined;
    const stats = await this.#admin.statsJob(job.id);
    return stats === undefined ? undefined : Date.now() - stats.ageSeconds * 1_000;
  }

  ping(): Promise<number> {
    return this.#run('ping', async () => {
      const started = performance.now();
      await this.#admin.listTubeUsed();
      return performance.now() - started;
    });
  }

  /** Deletes the ready and delayed jobs of `queue`, one peek and delete at a time (beanstalkd has no bulk delete). */
  async purge(queue: string): Promise<number> {
    const tube = this.#tubes.of(queue);
    return this.#run('purge', async () => {
      let removed = 0;
      for (const peek of [() => this.#admin.peekReady(), () => this.#admin.peekDelayed()]) {
        for (;;) {
          const [, job] = await Promise.all([this.#admin.use(tube), peek()]);
          if (job === undefined) break;
          // Reserved meanwhile by a worker: not ours to delete, and not counted.
          if (await this.#admin.delete(job.id)) removed += 1;
        }
      }
      return removed;
    });
  }

  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= (async () => {
      await this.#inFlight.drained();
      this.#holdings.clear();
      this.#pool.close();
      this.#admin.close();
    })();
    return this.#closed;
  }

  #client(reconnect: boolean, onConnect?: (client: BeanstalkClient) => Promise<void>): BeanstalkClient {
    return new BeanstalkClient({
      host: this.#options.host,
      port: this.#options.port,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      reconnect,
      onDrop: this.#onBackgroundError,
      ...(onConnect === undefined ? {} : { onConnect: (connection) => onConnect(connection as BeanstalkClient) }),
    });
  }

  /** Checks the arguments of a claim; resolves the tubes of `queues`. */
  #checkClaim(action: string, queues: readonly string[], leaseMs: number, max: number, minMax = 1): string[] {
    this.#assertOpen();
    if (!Array.isArray(queues) || queues.length === 0)
      throw new InvalidArgumentError(`beanstalk: ${action}: queues must be a non-empty array`);
    const tubes = queues.map((queue) => this.#tubes.of(queue));
    if (!(typeof leaseMs === 'number' && leaseMs > 0 && Number.isFinite(leaseMs))) {
      throw new InvalidArgumentError(`beanstalk: ${action}: leaseMs must be a number > 0, got ${leaseMs}`);
    }
    if (!Number.isInteger(max) || max < minMax || max > MAX_CLAIM) {
      throw new InvalidArgumentError(`beanstalk: ${action}: max must be an integer ${minMax}..${MAX_CLAIM}, got ${max}`);
    }
    return tubes;
  }

  #maxJobBytes(): number {
    return Math.min(this.#options.maxJobBytes, this.#serverMaxJobBytes ?? Number.POSITIVE_INFINITY);
  }

  #queueOf(tube: string): string {
    return tube.slice(this.#options.tubePrefix.length).replaceAll(';', ':');
  }

  #assertOpen(): void {
    if (this.#closing) throw new DriverClosedError('beanstalk: the driver is closed');
  }

  async #run<T>(action: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await this.#inFlight.track(fn);
    } catch (error) {
      if (isQueueError(error)) throw error;
      throw new DriverError(`beanstalk: ${action}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Creates a beanstalkd driver; see {@link BeanstalkDriverOptions}. */
export function createBeanstalkDriver(options: BeanstalkDriverOptions = {}): BeanstalkDriver {
  return new BeanstalkDriver(options);
}
