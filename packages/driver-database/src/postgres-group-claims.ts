import { randomUUID } from 'node:crypto';
import type { Reservation } from '@queuekit/core';
import type pg from 'pg';
import type { CheckedOutClient } from './checked-out-client.js';
import { type ClaimedRow, toReservation } from './rows.js';
import type { PostgresSql } from './sql/postgres-sql.js';

/** A row of the lane claims (lane_ord: the 1-based place of its lane among those claimed from). */
type LaneRow = ClaimedRow & {
  readonly token: string;
  readonly priority: number;
  readonly seq: number;
  readonly lane_ord?: string | number;
};

/** The statements of this file, sent as named (server-side prepared) statements. */
export type GroupClaimStatement = keyof Pick<PostgresSql, 'claimUnlessGrouped' | 'hasLanes' | 'lockLanes' | 'claimLanes'>;

/** What grouped claims borrow from their driver. */
export interface PostgresGroupClaimsContext {
  readonly pool: pg.Pool;
  /** The named statement of `statement` with `values`. */
  prepared(statement: GroupClaimStatement, values: unknown[]): pg.QueryConfig;
  /** A connection of the pool for one transaction. */
  checkOut(): Promise<CheckedOutClient>;
}

/** The lane of a queue's ungrouped jobs in `job_groups` (a group key is never empty). */
const UNGROUPED = '';
/** Rounds of lane locking per claim at most: lanes that turn out full or empty make room for others. */
const LOCK_ROUNDS = 4;
/** Lanes locked per round beyond the jobs wanted, for lanes that turn out full or empty. */
const SPARE_LANES = 4;

/**
 * Claims of one queue group by group (ReserveOptions.groupConcurrency). A queue without lanes (no
 * grouped job was ever pushed to it) is claimed by the plain statement, which checks that in the
 * same statement: one more index probe than a claim without groups. A queue with lanes is claimed
 * in one transaction: lock the lanes least recently served first that have a due job and room
 * (skipping lanes other claims hold), share the jobs wanted among them one per lane per round
 * within each group's room, then claim each lane's share in one statement, which counts each
 * group's live leases again (it starts after the lock, so it sees every claim of the group that
 * committed before), records the leases and the turns; commit. Lanes that turn out empty or full
 * make room for another round, at most LOCK_ROUNDS.
 */
export class PostgresGroupClaims {
  readonly #context: PostgresGroupClaimsContext;
  /** Queues seen with lanes: lanes are never deleted, so their claims go straight to the lanes. */
  readonly #laned = new Set<string>();

  constructor(context: PostgresGroupClaimsContext) {
    this.#context = context;
  }

  /** Claims up to `max` due jobs of `queue` (paused: none) with at most `groupConcurrency` leases per group; never waits. */
  async claim(queue: string, leaseMs: number, max: number, holder: string | null, groupConcurrency: number): Promise<Reservation[]> {
    const { pool, prepared } = this.#context;
    if (!this.#laned.has(queue)) {
      const { rows } = await pool.query(prepared('claimUnlessGrouped', [queue, leaseMs, randomUUID(), max, holder]));
      if (rows.length > 0) return inClaimOrder(rows as LaneRow[]);
      if ((await pool.query(prepared('hasLanes', [queue]))).rows.length === 0) return [];
      this.#laned.add(queue);
    }
    const { client, release } = await this.#context.checkOut();
    try {
      await client.query('BEGIN');
      const claimed = await this.#claimLanes(client, queue, leaseMs, max, holder, groupConcurrency);
      await client.query('COMMIT');
      release();
      return claimed;
    } catch (error) {
      // The claim's own error is the one to report; a broken connection is destroyed, not reused.
      await client.query('ROLLBACK').catch(() => undefined);
      release(error as Error);
      throw error;
    }
  }

  async #claimLanes(
    client: pg.PoolClient,
    queue: string,
    leaseMs: number,
    max: number,
    holder: string | null,
    groupConcurrency: number,
  ): Promise<Reservation[]> {
    const { prepared } = this.#context;
    const prefix = randomUUID();
    const visited: string[] = [];
    const claimed: Reservation[] = [];
    for (let round = 0; round < LOCK_ROUNDS && claimed.length < max; round += 1) {
      const wanted = max - claimed.length;
      const locked = (await client.query(prepared('lockLanes', [queue, visited, wanted + SPARE_LANES, groupConcurrency]))).rows as {
        group_key: string;
        paused: boolean;
        active: number;
      }[];
      if (locked.length === 0 || locked[0]!.paused) break;
      const lanes = locked.map((row) => row.group_key);
      visited.push(...lanes);
      // One job per lane per round, each group within its room, until the jobs wanted are shared out.
      const room = locked.map((row) => (row.group_key === UNGROUPED ? wanted : groupConcurrency - row.active));
      const take = lanes.map(() => 0);
      for (let left = wanted, more = true; left > 0 && more; ) {
        more = false;
        lanes.forEach((_, index) => {
          if (left === 0 || take[index]! >= room[index]!) return;
          take[index]! += 1;
          left -= 1;
          more = true;
        });
      }
      const { rows } = await client.query(prepared('claimLanes', [queue, lanes, take, groupConcurrency, leaseMs, prefix, holder]));
      const byLane = lanes.map((): LaneRow[] => []);
      for (const row of rows as LaneRow[]) byLane[Number(row.lane_ord) - 1]!.push(row);
      const perLane = byLane.filter((jobs) => jobs.length > 0).map(inClaimOrder);
      // Handed out in turns too: the first job of each lane, then the second of each, …
      for (let turn = 0; perLane.some((jobs) => turn < jobs.length); turn += 1) {
        for (const jobs of perLane) if (turn < jobs.length) claimed.push(jobs[turn]!);
      }
    }
    return claimed;
  }
}

/** Claimed rows as reservations in claim order (an UPDATE returns its rows in no particular order). */
function inClaimOrder(rows: LaneRow[]): Reservation[] {
  rows.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
  return rows.map((row) => toReservation(row, row.token));
}
