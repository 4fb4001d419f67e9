import { randomUUID } from 'node:crypto';
import type { Reservation } from '@queuekit/core';
import type pg from 'pg';
import type { CheckedOutClient } from './checked-out-client.js';
import { type ClaimedRow, toReservation } from './rows.js';
import type { PostgresSql } from './sql/postgres-sql.js';

/** A row of the lane claims. */
type LaneRow = ClaimedRow & { readonly token: string; readonly priority: number; readonly seq: number; readonly group_key?: string | null };

/** The statements of this file, sent as named (server-side prepared) statements. */
export type GroupClaimStatement = keyof Pick<
  PostgresSql,
  'claimUnlessGrouped' | 'hasLanes' | 'lockLanes' | 'activeLeases' | 'claimInGroups' | 'claimUngrouped' | 'recordTurns'
>;

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
 * in one transaction: lock the lanes least recently served first (skipping lanes other claims
 * hold), count each group's held leases (a statement after the lock sees every claim of the group
 * that committed before), share the jobs wanted among the lanes one per lane per round within
 * each group's room, claim each lane's share, record the leases and the turns, commit.
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
    const leases: { seq: number; group: string; token: string }[] = [];
    const served: string[] = [];
    for (let round = 0; round < LOCK_ROUNDS && claimed.length < max; round += 1) {
      const locked = (await client.query(prepared('lockLanes', [queue, visited, max - claimed.length + SPARE_LANES]))).rows as {
        group_key: string;
        paused: boolean;
      }[];
      if (locked.length === 0 || locked[0]!.paused) break;
      const lanes = locked.map((row) => row.group_key);
      visited.push(...lanes);
      const groups = lanes.filter((lane) => lane !== UNGROUPED);
      const active = new Map<string, number>();
      if (groups.length > 0) {
        const { rows } = await client.query(prepared('activeLeases', [queue, groups]));
        for (const row of rows as { group_key: string; active: number }[]) active.set(row.group_key, row.active);
      }
      // One job per lane per round, each group within its room, until the jobs wanted are shared out.
      const room = lanes.map((lane) => (lane === UNGROUPED ? max : groupConcurrency - (active.get(lane) ?? 0)));
      const take = lanes.map(() => 0);
      for (let left = max - claimed.length, more = true; left > 0 && more; ) {
        more = false;
        lanes.forEach((_, index) => {
          if (left === 0 || take[index]! >= room[index]!) return;
          take[index]! += 1;
          left -= 1;
          more = true;
        });
      }
      // Every grouped lane's share in one statement, the ungrouped lane's (if its turn came) in another.
      const byLane = new Map<string, LaneRow[]>();
      const grouped = lanes.flatMap((lane, index) => (lane !== UNGROUPED && take[index]! > 0 ? [index] : []));
      if (grouped.length > 0) {
        const { rows } = await client.query(
          prepared('claimInGroups', [queue, grouped.map((i) => lanes[i]), grouped.map((i) => take[i]), leaseMs, prefix, holder]),
        );
        for (const row of rows as LaneRow[]) {
          const lane = row.group_key as string;
          byLane.set(lane, [...(byLane.get(lane) ?? []), row]);
          leases.push({ seq: Number(row.seq), group: lane, token: row.token });
        }
      }
      const ungrouped = lanes.indexOf(UNGROUPED);
      if (ungrouped !== -1 && take[ungrouped]! > 0) {
        const { rows } = await client.query(prepared('claimUngrouped', [queue, UNGROUPED, take[ungrouped], leaseMs, prefix, holder]));
        if (rows.length > 0) byLane.set(UNGROUPED, rows as LaneRow[]);
      }
      const perLane: Reservation[][] = [];
      for (const lane of lanes) {
        const rows = byLane.get(lane);
        if (rows === undefined) continue;
        served.push(lane);
        perLane.push(inClaimOrder(rows));
      }
      // Handed out in turns too: the first job of each lane, then the second of each, …
      for (let turn = 0; perLane.some((jobs) => turn < jobs.length); turn += 1) {
        for (const jobs of perLane) if (turn < jobs.length) claimed.push(jobs[turn]!);
      }
    }
    if (served.length > 0) {
      await client.query(
        prepared('recordTurns', [queue, leases.map((l) => l.seq), leases.map((l) => l.group), leases.map((l) => l.token), served]),
      );
    }
    return claimed;
  }
}

/** Claimed rows as reservations in claim order (an UPDATE returns its rows in no particular order). */
function inClaimOrder(rows: LaneRow[]): Reservation[] {
  rows.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
  return rows.map((row) => toReservation(row, row.token));
}
