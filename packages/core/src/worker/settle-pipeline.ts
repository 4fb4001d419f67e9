import type { AckAndClaimResult, QueueDriver, Reservation } from '../driver/queue-driver.js';
import { JobCancelledError } from '../errors/job-cancelled-error.js';
import { LeaseLostError } from '../errors/lease-lost-error.js';
import type { Logger } from '../logger/logger.js';
import { HoldQueue } from './hold-queue.js';
import type { StallDetector } from './stall-detector.js';

/** Options of {@link SettlePipeline}. */
export interface SettlePipelineOptions {
  readonly driver: QueueDriver;
  /** Queues in priority order. */
  readonly queues: readonly string[];
  /** Lease of every claim, in ms. */
  readonly leaseMs: number;
  /** How long a claim waits for work when none is ready, in ms. */
  readonly waitMs: number;
  /** Most jobs claimed beyond the slots that wait for one; 0 claims only for waiting slots. */
  readonly prefetch: number;
  /**
   * False when the slots claim on their own (a rate-limited worker checks tokens first): the
   * pipeline then only settles, and its acks claim nothing.
   */
  readonly claims: boolean;
  /** How long a claimed job waits for a slot before it is given back, in ms. */
  readonly holdMs: number;
  /** Aborts waiting claims when the worker stops reserving. */
  readonly signal: AbortSignal;
  /** Who claims, kept with each lease where the driver can (see ReserveOptions.holder). */
  readonly holder?: string;
  /** Claim group by group with this per-group concurrency (see ReserveOptions.groupConcurrency). */
  readonly groupConcurrency?: number;
  /** Reports an error of a background call (a give-back); the call's jobs return when their lease runs out. */
  readonly report: (error: Error, during: string) => void;
  /**
   * Notices event-loop stalls. Claimed jobs whose claim was out during a stall are started only
   * after one renewal call confirms their leases (see {@link SettlePipeline.live}).
   */
  readonly stall: StallDetector;
  readonly logger: Logger;
}

/** Acknowledgements per ackAndClaim call at most. */
const ACK_BATCH_MAX = 128;
/** ackAndClaim calls in flight at most: one runs in the backend while the worker runs what the other claimed. */
const ACK_CALLS_MAX = 2;
/** Queued acks that justify a second call while one is in flight; fewer wait and join the next. */
const ACK_CALL_START = 32;
/** Claims waiting for work at once while the queues are drained (see #fill). */
const DRAINED_CLAIMS = 2;
/** Jobs one call claims at most. */
const CLAIM_MAX = 512;

interface Waiter {
  readonly resolve: (reservation: Reservation | undefined) => void;
  readonly reject: (error: unknown) => void;
}

interface QueuedAck {
  readonly reservation: Reservation;
  /** The finished-job record to keep, for drivers with retention. */
  readonly record: string | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Where the Worker's slots get their jobs and settle their acks. The Worker knows its concurrency
 * and what is settling, so batching is decided here, once, and said to the driver through the
 * contract: claim up to n jobs (`claim`), acknowledge a group while claiming the next n in the
 * same round trip (`ackAndClaim`), hand back what was not run (`giveBack`).
 *
 * Slots that find nothing held wait for a shared claim: with a backlog one call serves them all,
 * with the queues drained two claims wait for work (see #fill). Acks of one event-loop turn, and
 * those that arrive while a call is out, go in one call (group commit), which also claims for the
 * slots those acks free. Jobs claimed
 * beyond the waiting slots are held for the next slots that ask; one nobody takes within `holdMs`
 * is given back uncounted, and `close()` gives back the rest. How far ahead to claim adapts to what
 * this worker used: it grows while slots had to wait for a call in flight, and halves when held jobs
 * were given back unused.
 *
 * A driver without `capabilities.batch` gets one job per call: `reserve()` for each slot, `ack()`
 * for each job.
 */
export class SettlePipeline {
  readonly #o: SettlePipelineOptions;
  readonly #batch: boolean;
  readonly #held: HoldQueue<Reservation>;
  readonly #waiters: Waiter[] = [];
  readonly #queued: QueuedAck[] = [];
  readonly #calls = new Set<Promise<unknown>>();
  #toGiveBack: Reservation[] = [];
  /** claim() calls in flight. */
  #claiming = 0;
  /** ackAndClaim() calls in flight, and how many of those claim. */
  #acking = 0;
  #ackClaiming = 0;
  /** Jobs to claim beyond the demand of the moment: starts at `prefetch`, adapts to what is used. */
  #ahead: number;
  /**
   * The last claiming call found fewer jobs than it asked for: the queues are (nearly) drained.
   * Then waiting slots claim at once, beside any ack call, instead of waiting for the ack call to
   * bring them a job (it would bring none), as an idle worker should.
   */
  #drained = false;
  #fillScheduled = false;
  #flushScheduled = false;
  #closed = false;

  constructor(options: SettlePipelineOptions) {
    this.#o = options;
    const { driver } = options;
    this.#batch = driver.capabilities.batch && driver.claim !== undefined && driver.ackAndClaim !== undefined;
    this.#ahead = options.prefetch;
    this.#held = new HoldQueue<Reservation>(options.holdMs, (reservation) => {
      this.#ahead = Math.floor(this.#ahead / 2);
      this.#giveBackLater(reservation);
    });
  }

  /**
   * The next job for a free slot: a held one at once, else one from a claim that waits up to
   * `waitMs`. Resolves `undefined` when nothing arrived in that time or the worker stopped.
   */
  next(): Promise<Reservation | undefined> {
    const { queues, signal } = this.#o;
    if (!this.#batch) return this.reserve(queues);
    const held = this.#held.shift();
    if (held !== undefined) return Promise.resolve(held);
    if (signal.aborted || this.#closed) return Promise.resolve(undefined);
    // A slot that waits while a call is already out would have run a job claimed further ahead.
    if (this.#acking + this.#claiming > 0) this.#ahead = Math.min(this.#o.prefetch, this.#ahead * 2 + 1);
    return new Promise<Reservation | undefined>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#scheduleFill();
    });
  }

  /**
   * One job claimed with `reserve()` from `queues` (a driver without batch members, or a worker
   * that claims through its rate limits), checked as {@link live} checks a claim.
   */
  async reserve(queues: readonly string[]): Promise<Reservation | undefined> {
    const { driver, leaseMs, waitMs, signal } = this.#o;
    const sentAt = this.#o.stall.mark();
    const reservation = await driver.reserve(queues, { leaseMs, waitMs, signal, ...this.#claimOptions() });
    if (reservation === undefined) return undefined;
    return (await this.live([reservation], sentAt))[0];
  }

  /**
   * The claimed jobs that may start. A process paused (SIGSTOP, a frozen VM) or an event loop
   * stalled while a claim was out reads the claim's answer late: the leases it carries may have
   * run out on the backend and the jobs been claimed by another worker. So when a stall of at
   * least the heartbeat period happened since `sentAt`, one renewal call (`extendMany`, else
   * `extend` each) confirms and renews the leases first; the jobs whose lease was lost, or that
   * were cancelled, are dropped: not run and not settled (another delivery owns them). When the
   * check itself fails, the jobs are given back, not run.
   */
  async live(claimed: readonly Reservation[], sentAt: number): Promise<readonly Reservation[]> {
    const { driver, leaseMs, stall } = this.#o;
    if (!driver.capabilities.extend || driver.capabilities.lease === 'none') return claimed;
    let live = claimed;
    // A stall during the check itself makes its answer as stale as the claim's: check again.
    for (let since = sentAt; live.length > 0 && stall.stalledSince(since); ) {
      since = stall.mark();
      let expiries: (number | 'cancelled' | undefined)[];
      try {
        expiries = await renewAll(driver, live, leaseMs);
      } catch (error) {
        this.#o.report(error as Error, `confirming the leases of ${live.length} jobs claimed across an event-loop stall`);
        for (const reservation of live) this.#giveBackLater(reservation);
        return [];
      }
      const kept = live.filter((_, index) => typeof expiries[index] === 'number');
      if (kept.length < live.length) {
        const ids = live.filter((_, index) => typeof expiries[index] !== 'number').map((reservation) => reservation.id);
        this.#o.logger.warn('claimed jobs lost their lease while the process stood still; not started', { ids });
      }
      live = kept;
    }
    return live;
  }

  /**
   * Acknowledges a completed delivery, grouped with other acks and the next claim. LeaseLostError
   * when its lease was lost. The call starts at once when ACK_CALL_START acks are queued (and a
   * call may start), or when a slot waits for work (see #fill); otherwise at the end of this
   * event-loop turn, so that the acks of every job finished in the turn share it: a driver that
   * settles synchronously (SQLite) would otherwise commit one transaction per job.
   */
  ack(reservation: Reservation, record?: string): Promise<void> {
    if (!this.#batch) return this.#o.driver.ack(reservation, record === undefined ? undefined : { record });
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ reservation, record, resolve, reject });
      if (this.#acking < ACK_CALLS_MAX && this.#queued.length >= ACK_CALL_START) this.#track(this.#flush());
      else if (this.#acking === 0) this.#scheduleFlush();
    });
  }

  /** Stops claiming, waits for the calls in flight and gives back every held job. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(undefined);
    while (this.#calls.size > 0) await Promise.allSettled([...this.#calls]);
    for (const reservation of this.#held.drain()) this.#toGiveBack.push(reservation);
    await this.#giveBackNow();
  }

  /** Starts an ack call at the end of this event-loop turn, unless one has started by then. */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#acking === 0 && this.#queued.length > 0) this.#track(this.#flush());
    });
  }

  /** Starts a claim for the waiting slots in a microtask, so that slots asking at once share it. */
  #scheduleFill(): void {
    if (this.#fillScheduled) return;
    this.#fillScheduled = true;
    queueMicrotask(() => {
      this.#fillScheduled = false;
      this.#fill();
    });
  }

  /**
   * Makes sure claiming calls are under way while slots wait and nothing is held. With a backlog,
   * one call serves every waiting slot: the ack call that is out (or one started now), else one
   * claim. With the queues drained, DRAINED_CLAIMS claims wait for work, so that one is still
   * waiting while the other, having delivered, starts again (one claim per idle slot would send
   * every slot's statement to the backend on each wake-up); the first asks for as many as all
   * waiting slots and the margin ahead, so that a backlog arriving is seen (and the pipeline goes
   * back to one call).
   */
  #fill(): void {
    if (this.#waiters.length === 0) return;
    if (this.#closed || this.#o.signal.aborted) {
      for (const waiter of this.#waiters.splice(0)) waiter.resolve(undefined);
      return;
    }
    if (!this.#drained) {
      if (this.#claiming > 0 || this.#ackClaiming > 0) return;
      if (this.#queued.length > 0 && this.#acking < ACK_CALLS_MAX) {
        this.#track(this.#flush());
        return;
      }
      this.#track(this.#claim(this.#waiters.length + this.#ahead));
      return;
    }
    while (this.#claiming < Math.min(DRAINED_CLAIMS, this.#waiters.length)) {
      this.#track(this.#claim(this.#claiming === 0 ? this.#waiters.length + this.#ahead : 1));
    }
  }

  /** Claims up to `wanted` jobs (waiting up to waitMs for the first) for the waiting slots. */
  async #claim(wanted: number): Promise<void> {
    const { driver, queues, leaseMs, waitMs, signal } = this.#o;
    const max = Math.min(CLAIM_MAX, wanted);
    this.#claiming += 1;
    const sentAt = this.#o.stall.mark();
    let claimed: readonly Reservation[];
    try {
      claimed = await (driver.claim as NonNullable<QueueDriver['claim']>)(queues, {
        leaseMs,
        waitMs,
        signal,
        max,
        ...this.#claimOptions(),
      });
    } catch (error) {
      this.#claiming -= 1;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
      return;
    }
    this.#claiming -= 1;
    // A claim of one job says nothing about a backlog; a larger one that came back short does.
    if (max > 1) this.#drained = claimed.length < max;
    if (claimed.length === 0) {
      // Nothing within waitMs: the longest-waiting slot hears so (idle, stopWhenEmpty) and asks
      // again; the others go on waiting on a claim started for them.
      this.#waiters.shift()?.resolve(undefined);
      this.#fill();
      return;
    }
    this.#claiming += 1;
    try {
      claimed = await this.live(claimed, sentAt);
    } finally {
      this.#claiming -= 1;
    }
    this.#deliver(claimed);
  }

  /**
   * Sends the queued acks in ackAndClaim calls, up to ACK_CALLS_MAX in flight: acks that arrive
   * while a call is out join the next one. Each call claims for the slots its acks free, the
   * slots waiting, and the adaptive margin ahead, less what is held already.
   */
  async #flush(): Promise<void> {
    const { driver, queues, leaseMs } = this.#o;
    this.#acking += 1;
    try {
      for (let first = true; this.#queued.length > 0; first = false) {
        // Let the slots the last call served run first, so their acks join this call.
        if (!first) await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = this.#queued.splice(0, ACK_BATCH_MAX);
        const open = !this.#closed && !this.#o.signal.aborted;
        const wanted = batch.length + this.#waiters.length + this.#ahead - this.#held.length;
        // With the queues drained and a claim out for the waiting slots, the acks claim nothing:
        // what arrives goes to that claim.
        const claiming = open && this.#o.claims && !(this.#drained && this.#claiming > 0);
        const max = claiming ? Math.max(0, Math.min(CLAIM_MAX, wanted)) : 0;
        if (max > 0) this.#ackClaiming += 1;
        let result: AckAndClaimResult;
        const sentAt = this.#o.stall.mark();
        try {
          const records = batch.some((queued) => queued.record !== undefined) ? batch.map((queued) => queued.record) : undefined;
          result = await (driver.ackAndClaim as NonNullable<QueueDriver['ackAndClaim']>)(
            batch.map((queued) => queued.reservation),
            queues,
            { leaseMs, max, ...this.#claimOptions(), ...(records === undefined ? {} : { records }) },
          );
        } catch (error) {
          if (max > 0) this.#ackClaiming -= 1;
          for (const queued of batch) queued.reject(error);
          this.#fill();
          continue;
        }
        if (max > 1) this.#drained = result.claimed.length < max;
        const claimed = result.claimed.length === 0 ? result.claimed : await this.live(result.claimed, sentAt);
        if (max > 0) this.#ackClaiming -= 1;
        // Claimed jobs are held before the acks resolve, so a close() waiting for those acks
        // finds every held job and gives it back.
        this.#deliver(claimed);
        const lost = result.leaseLost.length === 0 ? undefined : new Set(result.leaseLost);
        for (const queued of batch) {
          if (lost?.has(queued.reservation)) queued.reject(leaseLost(driver, queued.reservation));
          else queued.resolve();
        }
      }
    } finally {
      this.#acking -= 1;
    }
  }

  /** The optional members every claim carries: who claims, and the per-group concurrency. */
  #claimOptions(): { holder?: string; groupConcurrency?: number } {
    const { holder, groupConcurrency } = this.#o;
    return {
      ...(holder === undefined ? {} : { holder }),
      ...(groupConcurrency === undefined ? {} : { groupConcurrency }),
    };
  }

  /** Hands claimed jobs to the waiting slots in order; the rest are held (or given back once closed). */
  #deliver(claimed: readonly Reservation[]): void {
    let index = 0;
    while (index < claimed.length && this.#waiters.length > 0) this.#waiters.shift()!.resolve(claimed[index++]);
    for (; index < claimed.length; index += 1) {
      if (this.#closed) this.#giveBackLater(claimed[index]!);
      else this.#held.push(claimed[index]!);
    }
    if (this.#waiters.length > 0) this.#fill();
  }

  /** Gives `reservation` back with the others of this turn, in one call. */
  #giveBackLater(reservation: Reservation): void {
    this.#toGiveBack.push(reservation);
    if (this.#toGiveBack.length === 1) queueMicrotask(() => this.#track(this.#giveBackNow()));
  }

  async #giveBackNow(): Promise<void> {
    const reservations = this.#toGiveBack;
    if (reservations.length === 0) return;
    this.#toGiveBack = [];
    try {
      await this.#o.driver.giveBack(reservations);
    } catch (error) {
      this.#o.report(error as Error, `giving back ${reservations.length} claimed jobs`);
    }
  }

  /** Counts a call in flight until it settles, so close() waits for it. */
  #track(call: Promise<void>): void {
    this.#calls.add(call);
    const settled = (): void => {
      this.#calls.delete(call);
    };
    call.then(settled, settled);
  }
}

/** Renews every lease in one call where the driver can: per reservation, its new expiry, `undefined` when lost, or `'cancelled'`. */
async function renewAll(
  driver: QueueDriver,
  reservations: readonly Reservation[],
  leaseMs: number,
): Promise<(number | 'cancelled' | undefined)[]> {
  if (driver.capabilities.batch && driver.extendMany !== undefined) return driver.extendMany(reservations, leaseMs);
  return Promise.all(
    reservations.map((reservation) =>
      driver.extend(reservation, leaseMs).catch((error: unknown) => {
        if (error instanceof LeaseLostError) return undefined;
        if (error instanceof JobCancelledError) return 'cancelled' as const;
        throw error;
      }),
    ),
  );
}

function leaseLost(driver: QueueDriver, reservation: Reservation): Error {
  return new LeaseLostError(`${driver.name}: ack of job ${reservation.id} in queue ${reservation.queue}: the lease was lost`);
}
