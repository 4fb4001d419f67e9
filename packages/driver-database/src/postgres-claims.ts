import { randomUUID } from 'node:crypto';
import type { AckAndClaimResult, Reservation } from '@queuekit/core';
import type pg from 'pg';
import { keptRecords, type PruneBounds } from './job-rows.js';
import { leaseLostError } from './lease-lost.js';
import type { PostgresGroupClaims } from './postgres-group-claims.js';
import { type ClaimedRow, toReservation } from './rows.js';
import type { PostgresSql } from './sql/postgres-sql.js';
import { isConnectionError } from './wrap-error.js';

/** A row of the claim statements: the reservation's columns plus its order. */
type ClaimRow = ClaimedRow & { readonly token: string; readonly priority: number; readonly seq: number };

/** The statements of this file, sent as named (server-side prepared) statements. */
type ClaimStatement = keyof Pick<PostgresSql, 'claim' | 'ackOne' | 'exists' | 'ackBatch' | 'ackClaim'>;

/** What the claims borrow from their driver. */
export interface PostgresClaimsContext {
  readonly pool: pg.Pool;
  /** The named statement of `statement` with `values`. */
  prepared(statement: ClaimStatement, values: unknown[]): pg.QueryConfig;
  /** Runs an idempotent query, once more on a fresh connection if the first one was lost. */
  retryOnConnectionLoss(query: () => Promise<pg.QueryResult>): Promise<pg.QueryResult>;
  /** Counts a connection loss the driver recovered from. */
  recovered(): void;
  /** Claims group by group (ReserveOptions.groupConcurrency). */
  readonly groups: PostgresGroupClaims;
  /** The bounds an ack that keeps a finished-job record prunes its queue's finished jobs by. */
  readonly bounds: PruneBounds;
}

/**
 * Claiming and acknowledging jobs: a claim is one statement per queue (in the caller's order, until
 * filled), an ack one statement (keeping the finished-job record given, pruning in the same
 * statement), an ack-and-claim one statement for the acks and the first queue.
 */
export class PostgresClaims {
  readonly #context: PostgresClaimsContext;

  constructor(context: PostgresClaimsContext) {
    this.#context = context;
  }

  /**
   * Claims up to `max` due jobs of `queues`, first queue first, leased to `holder`; group by group
   * with `groupConcurrency` (see PostgresGroupClaims). Never waits.
   */
  async claim(
    queues: readonly string[],
    leaseMs: number,
    max: number,
    holder: string | null,
    groupConcurrency?: number,
  ): Promise<Reservation[]> {
    const claimed: Reservation[] = [];
    for (const queue of queues) {
      if (claimed.length >= max) break;
      if (groupConcurrency !== undefined) {
        claimed.push(...(await this.#context.groups.claim(queue, leaseMs, max - claimed.length, holder, groupConcurrency)));
        continue;
      }
      const { rows } = await this.#context.pool.query(
        this.#context.prepared('claim', [queue, leaseMs, randomUUID(), max - claimed.length, holder]),
      );
      claimed.push(...reservations(rows as ClaimRow[]));
    }
    return claimed;
  }

  /**
   * Acknowledges one reservation, keeping `record` (null: none); sent again if its connection was
   * lost. A no-op when the job is gone; LeaseLostError when another delivery holds it.
   */
  async ack(reservation: Reservation, record: string | null): Promise<void> {
    const { rows } = await this.#context.retryOnConnectionLoss(() =>
      this.#context.pool.query(this.#context.prepared('ackOne', [reservation.id, reservation.token, record, ...this.#bounds()])),
    );
    if ((rows[0] as { deleted: number }).deleted === 1) return;
    // Nothing deleted: gone already (acknowledged, cancelled), or held under another token (lease lost).
    const present = await this.#context.pool.query(this.#context.prepared('exists', [reservation.id]));
    if (present.rows.length > 0) throw leaseLostError('postgres', 'ack', reservation, true);
  }

  /**
   * Acknowledges `acks` (keeping `records[i]` for `acks[i]` where not null) and claims up to `max`
   * next jobs in the same statement (when `max` > 0).
   */
  async ackAndClaim(
    acks: readonly Reservation[],
    records: readonly (string | null)[],
    queues: readonly string[],
    leaseMs: number,
    max: number,
    holder: string | null,
    groupConcurrency?: number,
  ): Promise<AckAndClaimResult> {
    if (acks.length === 0) return { leaseLost: [], claimed: await this.claim(queues, leaseMs, max, holder, groupConcurrency) };
    const ids = acks.map((r) => r.id);
    const tokens = acks.map((r) => r.token);
    const acked = [ids, tokens, keptRecords(acks, records, this.#context.bounds.count), ...this.#bounds()];
    if (max === 0) return { leaseLost: await this.#ackBatch(acks, acked), claimed: [] };
    if (groupConcurrency !== undefined) {
      // A grouped claim is a transaction of its own: the acks go first, in their own statement.
      const leaseLost = await this.#ackBatch(acks, acked);
      return { leaseLost, claimed: await this.claim(queues, leaseMs, max, holder, groupConcurrency) };
    }
    let rows: (ClaimRow & { claimed: boolean })[];
    try {
      ({ rows } = await this.#context.pool.query(
        this.#context.prepared('ackClaim', [...acked, queues[0], leaseMs, randomUUID(), max, holder]),
      ));
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      // The connection went with the statement: settle the acks on their own (idempotent). Rows
      // the lost statement may have claimed come back when their lease runs out.
      this.#context.recovered();
      return { leaseLost: await this.#ackBatch(acks, acked), claimed: [] };
    }
    const lost = new Set(rows.filter((row) => !row.claimed).map((row) => deliveryKey(row.job_id, row.token)));
    const claimed = reservations(rows.filter((row) => row.claimed));
    // The first queue ran short: the others are claimed in order, as claim() does.
    if (claimed.length < max && queues.length > 1) {
      claimed.push(...(await this.claim(queues.slice(1), leaseMs, max - claimed.length, holder)));
    }
    return { leaseLost: acks.filter((r) => lost.has(deliveryKey(r.id, r.token))), claimed };
  }

  /** Acknowledges many in one statement (sent again if its connection was lost); resolves the lost leases. */
  async #ackBatch(acks: readonly Reservation[], acked: unknown[]): Promise<Reservation[]> {
    const { rows } = await this.#context.retryOnConnectionLoss(() => this.#context.pool.query(this.#context.prepared('ackBatch', acked)));
    const lost = new Set((rows as { job_id: string; token: string }[]).map((row) => deliveryKey(row.job_id, row.token)));
    return acks.filter((r) => lost.has(deliveryKey(r.id, r.token)));
  }

  /** The prune parameters of the ack statements: count, age ms, every. */
  #bounds(): [number, number, number] {
    const { count, ageMs, every } = this.#context.bounds;
    return [count, ageMs, every];
  }
}

/** Claimed rows as reservations in claim order (an UPDATE returns its rows in no particular order). */
function reservations(rows: ClaimRow[]): Reservation[] {
  rows.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
  return rows.map((row) => toReservation(row, row.token));
}

/** Identifies one delivery of one job. */
function deliveryKey(id: string, token: string): string {
  return `${id}\u0000${token}`;
}
