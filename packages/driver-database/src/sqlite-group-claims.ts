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

/** A lane's place in claim order: its next job comes after (priority, seq). */
type Place = readonly [priority: number, seq: number];
/** Before every job in claim order (priorities are integers, seqs positive). */
const START: Place = [Number.MIN_SAFE_INTEGER, 0];

/**
 * Claims up to `max` jobs of one queue lane by lane: the lanes (groups, and the ungrouped jobs)
 * least recently served first, one job per lane per round, a group only while fewer than
 * `groupConcurrency` of its jobs hold a lease; priority then FIFO within a lane. Undefined when
 * the queue has no lanes (no grouped job was ever pushed to it): the caller claims as usual.
 * Run inside BEGIN IMMEDIATE, which makes the count and the claim of a group one step. The jobs
 * are picked first (one statement per round of lanes, reading each lane's next job past the ones
 * already picked), then claimed, their leases recorded and their lanes marked served, one
 * statement each, so the statements of a claim do not grow with the jobs it takes.
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
  const dropIdleLane = db.get('dropIdleLane');
  const picked: { lane: string; seq: number }[] = [];
  const place = new Map<string, Place>();
  let after = { served: -1, group_key: '' };
  let open: string[] = [];
  const room = new Map<string, number>();
  for (let exhausted = false; picked.length < request.max; ) {
    if (open.length === 0 || picked.length + open.length < request.max) {
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
    // A round: the lanes in turn, as many at a time as jobs are still wanted, until the claim is full.
    for (let from = 0; from < open.length && picked.length < request.max; ) {
      const lanes = open.slice(from, from + request.max - picked.length);
      from += lanes.length;
      const found = pickNext(db, queue, now, lanes, place);
      lanes.forEach((lane, index) => {
        const job = found[index];
        if (job === undefined) {
          // A group with no job left has no lane, so later claims do not probe it.
          if (lane !== UNGROUPED) dropIdleLane.run({ queue, group_key: lane });
          return;
        }
        picked.push({ lane, seq: job[1] });
        place.set(lane, job);
        const left = (room.get(lane) ?? 0) - 1;
        room.set(lane, left);
        if (left > 0) next.push(lane);
      });
    }
    if (next.length === 0 && exhausted) break;
    open = next;
  }
  return picked.length === 0 ? [] : claimPicked(db, request, picked);
}

/** The next due job of each of `lanes` past its place (undefined: none), in `lanes` order. */
function pickNext(
  db: SqliteStatements,
  queue: string,
  now: number,
  lanes: readonly string[],
  place: Map<string, Place>,
): (Place | undefined)[] {
  const found = new Map<string, Place>();
  const grouped = lanes.filter((lane) => lane !== UNGROUPED);
  if (grouped.length > 0) {
    const rows = db.get('pickInGroups').all({
      queue,
      now,
      lanes: JSON.stringify(grouped.map((lane) => [lane, ...(place.get(lane) ?? START)])),
    }) as { ord: number; seq: number | null; priority: number | null }[];
    for (const row of rows) if (row.seq !== null) found.set(grouped[row.ord]!, [Number(row.priority), Number(row.seq)]);
  }
  if (grouped.length < lanes.length) {
    const [priority, seq] = place.get(UNGROUPED) ?? START;
    const row = db.get('pickUngrouped').get({ queue, now, priority, seq }) as { seq: number; priority: number } | undefined;
    if (row !== undefined) found.set(UNGROUPED, [Number(row.priority), Number(row.seq)]);
  }
  return lanes.map((lane) => found.get(lane));
}

/** Claims the jobs picked, records the grouped ones' leases and the turns; the reservations in the order picked. */
function claimPicked(db: SqliteStatements, request: GroupClaimRequest, picked: readonly { lane: string; seq: number }[]): Reservation[] {
  const { queue, now } = request;
  const rows = db.get('claimPicked').all({
    seqs: JSON.stringify(picked.map((job) => job.seq)),
    now,
    lease_until: request.leaseUntil,
    holder: request.holder,
  }) as GroupClaimRow[];
  const bySeq = new Map(rows.map((row) => [Number(row.seq), row]));
  const leases: [number, string, string][] = [];
  const claimed: Reservation[] = [];
  // Each lane's turn is the latest it was served in this claim, after every turn given before.
  const turns = new Map<string, number>();
  let turn = Number((db.get('lastTurn').get({ queue }) as { served: number | null }).served ?? 0);
  for (const { lane, seq } of picked) {
    const row = bySeq.get(seq);
    // Picked in this transaction, so claimed by it: a missing row is a broken invariant, not a lost race.
    if (row === undefined)
      throw new Error(`sqlite: grouped claim picked job seq ${seq} of queue ${JSON.stringify(queue)} and could not claim it`);
    if (lane !== UNGROUPED) leases.push([seq, lane, row.token]);
    turn += 1;
    turns.set(lane, turn);
    claimed.push(toReservation(row, row.token));
  }
  if (leases.length > 0) db.get('addLeases').run({ queue, leases: JSON.stringify(leases) });
  db.get('markServed').run({ queue, served: JSON.stringify([...turns]) });
  return claimed;
}
