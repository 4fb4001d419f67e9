import type { JobFailure, Reservation } from '@queuekit/core';
import { encodeEnvelope } from '@queuekit/core/driver';
import type pg from 'pg';
import type { PostgresJobs } from './postgres-jobs.js';
import type { PostgresSql } from './sql/postgres-sql.js';

/** The statements settling sends, named (server-side prepared). */
export type SettleStatement = keyof Pick<PostgresSql, 'release' | 'giveBack' | 'extend' | 'extendMany' | 'deadLetter'>;

/** What settling borrows from its driver. */
export interface PostgresSettleContext {
  readonly pool: pg.Pool;
  /** The named statement of `statement` with `values`. */
  prepared(statement: SettleStatement, values: unknown[]): pg.QueryConfig;
  /** Runs an idempotent statement, once more on a fresh connection if the first one was lost. */
  retryOnConnectionLoss(query: () => Promise<pg.QueryResult>): Promise<pg.QueryResult>;
  /** Why a settle changed nothing (lease lost, cancelled, gone), and which jobs were cancelled. */
  readonly jobs: Pick<PostgresJobs, 'refusal' | 'cancelledAmong'>;
  /** The NOTIFY channel a job made due at once is announced on. */
  readonly channel: string;
  /** Wakes a claim of this driver waiting on `queue`. */
  wake(queue: string): void;
}

/**
 * Settling held jobs other than by acknowledgement (see PostgresClaims for ack and ackAndClaim):
 * release, give back, renew and dead-letter, each one statement fenced by the reservation's token.
 * Arguments are checked by the driver.
 */
export class PostgresSettle {
  readonly #c: PostgresSettleContext;

  constructor(context: PostgresSettleContext) {
    this.#c = context;
  }

  async release(reservation: Reservation, delayMs: number, envelope: Parameters<typeof encodeEnvelope>[0] | undefined): Promise<void> {
    const body = envelope === undefined ? null : encodeEnvelope(envelope);
    const priority = envelope?.priority ?? null;
    const { rows } = await this.#c.pool.query(
      this.#c.prepared('release', [reservation.id, reservation.token, delayMs, body, priority, this.#c.channel]),
    );
    const row = rows[0] as { changed: number; present: boolean };
    if (row.changed === 0) throw await this.#c.jobs.refusal('release', reservation, row.present);
    if (delayMs === 0) this.#c.wake(reservation.queue);
  }

  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    if (reservations.length === 0) return 0;
    const { rows } = await this.#c.retryOnConnectionLoss(() =>
      this.#c.pool.query(this.#c.prepared('giveBack', [reservations.map((r) => r.id), reservations.map((r) => r.token), this.#c.channel])),
    );
    for (const queue of new Set(reservations.map((r) => r.queue))) this.#c.wake(queue);
    return (rows[0] as { returned: number }).returned;
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    const { rows } = await this.#c.pool.query(this.#c.prepared('extend', [reservation.id, reservation.token, leaseMs]));
    const row = rows[0] as { lease_expires_at: number } | undefined;
    if (row === undefined) throw await this.#c.jobs.refusal('extend', reservation);
    return row.lease_expires_at;
  }

  async extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | 'cancelled' | undefined)[]> {
    const expiries: (number | 'cancelled' | undefined)[] = reservations.map(() => undefined);
    if (reservations.length === 0) return expiries;
    const { rows } = await this.#c.pool.query(
      this.#c.prepared('extendMany', [reservations.map((r) => r.id), reservations.map((r) => r.token), leaseMs]),
    );
    for (const row of rows as { ord: number; lease_expires_at: number }[]) expiries[row.ord - 1] = row.lease_expires_at;
    // Only the renewals that failed ask why: a cancelled job is told apart from a lost lease.
    const cancelled = await this.#c.jobs.cancelledAmong(reservations.filter((_, i) => expiries[i] === undefined).map((r) => r.id));
    return expiries.map((expiry, i) => (expiry === undefined && cancelled.has(reservations[i]!.id) ? 'cancelled' : expiry));
  }

  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    const { rows } = await this.#c.pool.query(
      this.#c.prepared('deadLetter', [
        reservation.id,
        reservation.token,
        reservation.envelope?.name ?? null,
        reservation.envelope === undefined,
        failure.reason,
        JSON.stringify(failure.error),
        failure.attempts,
        Math.round(failure.firstFailedAt),
        Math.round(failure.failedAt),
      ]),
    );
    const row = rows[0] as { changed: number; present: boolean };
    if (row.changed === 0) throw await this.#c.jobs.refusal('deadLetter', reservation, row.present);
  }
}
