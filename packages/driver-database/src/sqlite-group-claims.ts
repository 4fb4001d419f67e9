import type { Reservation } from '@queuekit/core';
import { type ClaimedRow, toReservation } from './rows.js';
import type { SqliteStatements } from './sqlite-statements.js';

/** A row of the grouped claim statements. */
interface GroupClaimRow extends ClaimedRow {
  readonly token: string;
  readonly seq: number;
  readonly priority: number;
  readonly group_key: string | null;
}

/** The lane of a queue's ungrouped jobs in `job_groups` (a group key is never empty). */
const UNGROUPED = '';

/** What a grouped claim needs besides the statements. */
export interface GroupClaimRequest {
  readonly queue: string;
  readonly now: number;
  readonly leaseUntil: number;
  /** Jobs wanted at most (>= 1). */
  readonly max: number;
  readonly holder: string | null;
  readonly groupConcurrency: number;
}

/**
 * Registers the lanes a pushed grouped job needs: its group's, and the ungrouped lane of its queue
 * (so that the queue's ungrouped jobs take their turn). Run inside the push's transaction.
 */
export function registerLanes(db: SqliteStatements, queue: string, group: string): void {
  const register = db.get('registerLane');
  register.run({ queue, group_key: group });
  register.run({ queue, group_key: UNGROUPED });
}

/**
 * Claims up to `max` jobs of one queue lane by lane: the lanes (groups, and the ungrouped jobs)
 * least recently served first, one job per lane per round, a group only while fewer than
 * `groupConcurrency` of its jobs hold a lease; priority then FIFO within a lane. Undefined when
 * the queue has no lanes (no grouped job was ever pushed to it): the caller claims as usual.
 * Run inside BEGIN IMMEDIATE, which makes the count and the claim of a group one step.
 */
export function claimGrouped(db: SqliteStatements, request: GroupClaimRequest): Reservation[] | undefined {
  const { queue, now } = request;
  const lanes = (db.get('lanes').all({ queue }) as { group_key: string }[]).map((row) => row.group_key);
  if (lanes.length === 0) return undefined;
  if (db.get('queuePaused').get({ queue }) !== undefined) return [];
  // Leases each group may still take in this claim (the ungrouped lane has no bound).
  db.get('dropStaleLeases').run({ queue, now });
  const active = new Map(
    (db.get('activeLeases').all({ queue }) as { group_key: string; active: number }[]).map((row) => [row.group_key, row.active]),
  );
  const room = new Map<string, number>();
  for (const lane of lanes) room.set(lane, lane === UNGROUPED ? request.max : request.groupConcurrency - (active.get(lane) ?? 0));
  const claimInGroup = db.get('claimInGroup');
  const claimUngrouped = db.get('claimUngrouped');
  const addLease = db.get('addLease');
  const markServed = db.get('markServed');
  const dropIdleLane = db.get('dropIdleLane');
  const claimed: Reservation[] = [];
  let open = lanes.filter((lane) => (room.get(lane) ?? 0) > 0);
  for (let round = 0; claimed.length < request.max && open.length > 0; round += 1) {
    const next: string[] = [];
    for (const lane of open) {
      if (claimed.length >= request.max) break;
      const params = { queue, now, lease_until: request.leaseUntil, max: 1, holder: request.holder };
      const [row] = (lane === UNGROUPED ? claimUngrouped.all(params) : claimInGroup.all({ ...params, group_key: lane })) as GroupClaimRow[];
      if (row === undefined) {
        // A group with no job left has no lane, so later claims do not probe it.
        if (lane !== UNGROUPED && round === 0) dropIdleLane.run({ queue, group_key: lane });
        continue;
      }
      if (lane !== UNGROUPED) addLease.run({ seq: row.seq, queue, group_key: lane, token: row.token });
      markServed.run({ queue, group_key: lane });
      claimed.push(toReservation(row, row.token));
      const left = (room.get(lane) ?? 0) - 1;
      room.set(lane, left);
      if (left > 0) next.push(lane);
    }
    open = next;
  }
  return claimed;
}
