import type { AckAndClaimResult, JobFailure, Reservation } from '@queuekit/core';
import { BeanstalkClaims } from './beanstalk-claims.js';
import type { BeanstalkDeadLetterStore } from './beanstalk-dead-letter-store.js';
import type { BeanstalkClient } from './client/beanstalk-client.js';
import { type HeldJob, type Holdings, isKept, isSafelyHeld, leaseLost } from './holdings.js';
import type { ReserverPool } from './reserver-pool.js';

/**
 * Jobs an ackAndClaim claims at most on one connection that held acks, while the queues have a
 * backlog. Larger than the claims of {@link BeanstalkClaims.claim} (CLAIM_CHUNK): the Worker keeps
 * two such calls in flight, so the longer pipeline on one connection costs it no wait, while every
 * claim group costs a write, a read and a pause-marker read of its own (at concurrency 50: 3.3
 * commands and 45 µs of client CPU per job with claims of what each connection freed, about 3.05
 * and 35 µs with this). Without a backlog most of those reserves answer TIMED_OUT, and a job put
 * meanwhile would wait behind the rest of them on its connection: claims then stay spread.
 */
const ACK_CLAIM_CHUNK = 32;

/** What settling needs of the driver. */
export interface SettleContext {
  readonly holdings: Holdings;
  readonly pool: ReserverPool;
  readonly claims: BeanstalkClaims;
  /** The connection for commands on jobs this driver does not hold. */
  readonly admin: BeanstalkClient;
  readonly deadLetters: BeanstalkDeadLetterStore;
}

/**
 * Settling held jobs, always on the connection that reserved them (beanstalkd's own fencing: another
 * connection cannot release, bury or touch a reserved job). `delete` is the exception, since
 * beanstalkd lets any connection delete a ready, delayed or buried job: near its TTR deadline a
 * `touch` first proves the job is still this connection's, so a late ack never deletes a job that
 * went back to the queue. Commands for jobs on one connection go out together, in one write.
 */
export class BeanstalkSettle {
  readonly #c: SettleContext;

  constructor(context: SettleContext) {
    this.#c = context;
  }

  async ack(reservation: Reservation): Promise<void> {
    const job = this.#c.holdings.take(reservation);
    if (job === undefined) {
      if (await this.#stillThere(reservation)) throw leaseLost('ack', reservation);
      return;
    }
    const deleted = await this.#settling([job], () => this.#delete(job));
    if (!deleted && (await this.#stillThere(reservation))) throw leaseLost('ack', reservation);
  }

  /**
   * Acknowledges `acks` and claims the next jobs right behind the deletes (one write per
   * connection): on the connections that held acks, most freed first, up to {@link ACK_CLAIM_CHUNK}
   * each while the queues have a backlog (as many as each freed otherwise); what is left on idle
   * connections, side by side.
   */
  async ackAndClaim(acks: readonly Reservation[], tubes: readonly string[], leaseMs: number, max: number): Promise<AckAndClaimResult> {
    const taken = acks.map((reservation) => ({ reservation, job: this.#c.holdings.take(reservation) }));
    const jobs = taken.map((t) => t.job).filter((job): job is HeldJob => job !== undefined);
    try {
      const deletes = this.#deleteAll(taken.map((t) => t.job));
      const claims: Promise<Reservation[]>[] = [];
      let left = max;
      // With a backlog, the connections that freed the most first, each taking up to ACK_CLAIM_CHUNK
      // (more than it freed): one call's claims then go to a few connections, in a few writes, with
      // one pause marker read per connection. Without, each takes what it freed.
      const chunk = this.#c.claims.backlog ? ACK_CLAIM_CHUNK : 0;
      const byClient = [...countByClient(jobs)].sort((a, b) => b[1] - a[1]);
      for (const [client, freed] of byClient) {
        if (left === 0) break;
        const n = Math.min(left, Math.max(freed, chunk));
        claims.push(this.#c.claims.claimOn(client, tubes, n, leaseMs));
        left -= n;
      }
      if (left > 0) claims.push(this.#c.claims.claim({ tubes, leaseMs, max: left, waitMs: 0 }));
      const [deleted, claimed] = await Promise.all([deletes, Promise.all(claims)]);
      const lost = await Promise.all(taken.map(async ({ reservation }, i) => !deleted[i] && (await this.#stillThere(reservation))));
      return { leaseLost: acks.filter((_, i) => lost[i]), claimed: this.#c.claims.inClaimOrder(claimed.flat()) };
    } finally {
      for (const job of jobs) this.#c.pool.done(job.client);
    }
  }

  async release(reservation: Reservation, delayMs: number): Promise<void> {
    const job = this.#c.holdings.take(reservation);
    if (job === undefined) throw leaseLost('release', reservation);
    const released = await this.#settling([job], () => job.client.release(job.jobId, job.priority, delaySeconds(delayMs)));
    if (!released) throw leaseLost('release', reservation);
  }

  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    const jobs = reservations.map((reservation) => this.#c.holdings.take(reservation)).filter((job): job is HeldJob => job !== undefined);
    const outcomes = await this.#settling(jobs, () =>
      Promise.all(jobs.map((job) => BeanstalkClaims.giveBackJob(job.client, job.jobId, job.priority, isSafelyHeld(job)))),
    );
    return outcomes.filter(Boolean).length;
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    const job = this.#c.holdings.get(reservation);
    if (job === undefined || !isKept(job)) {
      if (job !== undefined) this.#release(this.#c.holdings.take(reservation));
      throw leaseLost('extend', reservation);
    }
    return this.#c.holdings.renew(job, leaseMs);
  }

  /** Renews many leases; the touches for one connection go out in one write. */
  extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | undefined)[]> {
    return Promise.all(reservations.map((reservation) => this.extend(reservation, leaseMs).catch(() => undefined)));
  }

  /** Records the failure first, then buries the job; a lost lease takes the record back out. */
  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    const job = this.#c.holdings.take(reservation);
    if (job === undefined) throw leaseLost('deadLetter', reservation);
    await this.#settling([job], async () => {
      const record = await this.#c.deadLetters.record(reservation, failure, job.jobId);
      if (!(await job.client.bury(job.jobId, job.priority))) {
        await this.#c.deadLetters.unrecord(record);
        throw leaseLost('deadLetter', reservation);
      }
    });
  }

  /** Deletes a held job: at once well before its TTR deadline, after a `touch` proves it still ours otherwise. */
  async #delete(job: HeldJob): Promise<boolean> {
    if (!isSafelyHeld(job) && !(await job.client.touch(job.jobId))) return false;
    return job.client.delete(job.jobId);
  }

  /**
   * Deletes held jobs (undefined: not held, false): those well before their TTR deadline in one
   * command group per connection, the others each after a `touch`. Resolves per job whether it was
   * deleted.
   */
  async #deleteAll(jobs: readonly (HeldJob | undefined)[]): Promise<boolean[]> {
    const outcomes: Promise<boolean>[] = jobs.map(() => Promise.resolve(false));
    const groups = new Map<BeanstalkClient, number[]>();
    jobs.forEach((job, index) => {
      if (job === undefined) return;
      if (!isSafelyHeld(job)) {
        outcomes[index] = this.#delete(job);
        return;
      }
      const group = groups.get(job.client);
      if (group === undefined) groups.set(job.client, [index]);
      else group.push(index);
    });
    for (const [client, indexes] of groups) {
      const deleted = client.deleteAll(indexes.map((index) => (jobs[index] as HeldJob).jobId));
      indexes.forEach((index, i) => {
        outcomes[index] = deleted.then((all) => all[i] === true);
      });
    }
    return Promise.all(outcomes);
  }

  /** Runs the settle of `jobs` (taken from the holdings), then lets their connections go. */
  async #settling<T>(jobs: readonly HeldJob[], settle: () => Promise<T>): Promise<T> {
    try {
      return await settle();
    } finally {
      for (const job of jobs) this.#c.pool.done(job.client);
    }
  }

  #release(job: HeldJob | undefined): void {
    if (job !== undefined) this.#c.pool.done(job.client);
  }

  /** True when the job of `reservation` still exists (so a settle that found it not ours lost its lease). */
  async #stillThere(reservation: Reservation): Promise<boolean> {
    const jobId = jobIdOf(reservation);
    return jobId !== undefined && (await this.#c.admin.statsJob(jobId)) !== undefined;
  }
}

/** How many of `jobs` each connection held. */
function countByClient(jobs: readonly HeldJob[]): Map<BeanstalkClient, number> {
  const counts = new Map<BeanstalkClient, number>();
  for (const job of jobs) counts.set(job.client, (counts.get(job.client) ?? 0) + 1);
  return counts;
}

/** The beanstalkd job id in a token (`<job id>:<reserves>`), or undefined for a token of another driver. */
function jobIdOf(reservation: Reservation): number | undefined {
  const id = Number(reservation.token.split(':')[0]);
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** beanstalkd delays are whole seconds: rounded up, so a job never runs early. */
export function delaySeconds(delayMs: number): number {
  return delayMs <= 0 ? 0 : Math.ceil(delayMs / 1_000);
}
