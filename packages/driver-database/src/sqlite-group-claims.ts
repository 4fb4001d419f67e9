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
  if (db.get('hasLanes').get({ queue }) === undefined) return undefined;
  if (db.get('queuePaused').get({ queue }) !== undefined) return [];
  // Leases each group may still take in this claim (the ungrouped lane has no bound).
  db.get('dropStaleLeases').run({ queue, now });
  const active = new Map(
    (db.get('activeLeases').all({ queue }) as { group_key: string; active: number }[]).map((row) => [row.group_key, row.active]),
  );
  const roomOf = (lane: string) => (lane === UNGROUPED ? request.max : request.groupConcurrency - (active.get(lane) ?? 0));
  // The lanes are read a page at a time in turn order: enough for the jobs wanted past the full
  // groups, and more only when lanes turn out empty or full, so a claim does not read every group.
  const pageSize = request.max + active.size + 8;
  const lanesPage = db.get('lanes');
  const claimInGroup = db.get('claimInGroup');
  const claimUngrouped = db.get('claimUngrouped');
  const addLease = db.get('addLease');
  const markServed = db.get('markServed');
  const dropIdleLane = db.get('dropIdleLane');
  let turn = Number((db.get('lastTurn').get({ queue }) as { served: number | null }).served ?? 0);
  const claimed: Reservation[] = [];
  let after = { served: -1, group_key: '' };
  let open: string[] = [];
  const room = new Map<string, number>();
  for (let exhausted = false; claimed.length < request.max; ) {
    if (open.length === 0 || claimed.length + open.length < request.max) {
      // Too few lanes with room left to fill the claim in one more round: read the next page.
      const page = exhausted ? [] : (lanesPage.all({ queue, ...after, limit: pageSize }) as { group_key: string; served: number }[]);
      if (page.length < pageSize) exhausted = true;
      const last = page.at(-1);
      if (last !== undefined) after = { served: last.served, group_key: last.group_key };
      // Lanes not yet visited take their first turn before the second turn of lanes already served.
      const fresh: string[] = [];
      for (const { group_key: lane } of page) {
        if (room.has(lane)) continue;
        room.set(lane, roomOf(lane));
        if ((room.get(lane) ?? 0) > 0) fresh.push(lane);
      }
      open = [...fresh, ...open];
      if (open.length === 0) break;
    }
    const next: string[] = [];
    for (const lane of open) {
      if (claimed.length >= request.max) break;
      const params = { queue, now, lease_until: request.leaseUntil, max: 1, holder: request.holder };
      const [row] = (lane === UNGROUPED ? claimUngrouped.all(params) : claimInGroup.all({ ...params, group_key: lane })) as GroupClaimRow[];
      if (row === undefined) {
        // A group with no job left has no lane, so later claims do not probe it.
        if (lane !== UNGROUPED) dropIdleLane.run({ queue, group_key: lane });
        continue;
      }
      if (lane !== UNGROUPED) addLease.run({ seq: row.seq, queue, group_key: lane, token: row.token });
      turn += 1;
      markServed.run({ queue, group_key: lane, served: turn });
      claimed.push(toReservation(row, row.token));
      const left = (room.get(lane) ?? 0) - 1;
      room.set(lane, left);
      if (left > 0) next.push(lane);
    }
    if (next.length === 0 && exhausted) break;
    open = next;
  }
  return claimed;
}
