import type { Reservation } from '@queuekit/core';
import type { PruneBounds } from './job-rows.js';
import { type ClaimedRow, toReservation } from './rows.js';
import { claimGrouped } from './sqlite-group-claims.js';
import { type FinishedToKeep, keepFinished } from './sqlite-jobs.js';
import type { SqliteStatements } from './sqlite-statements.js';

/**
 * Claiming and settling leases on the SQLite dialect. Each function is synchronous and runs its
 * statements on `db` as they are; the caller decides the transaction (one BEGIN IMMEDIATE per
 * driver call), so a batch of any size costs one commit.
 */

/** A row of the `claim` statement: the claimed job plus its token and sort key. */
interface ClaimRow extends ClaimedRow {
  readonly token: string;
  readonly priority: number;
  readonly seq: number;
}

/**
 * Claims up to `max` due jobs for `holder`: from the first of `queues` that has some (paused ones
 * have none), then the next, each in priority then FIFO order, one statement per queue visited.
 * Counts a lost delivery for every job whose expired lease it takes over. With `groupConcurrency`,
 * a queue that has groups is claimed lane by lane (see claimGrouped); one that has none as usual,
 * after one lookup of its lanes. Run inside a transaction.
 */
export function claimJobs(
  db: SqliteStatements,
  queues: readonly string[],
  leaseMs: number,
  max: number,
  holder: string | null,
  groupConcurrency?: number,
): Reservation[] {
  const claim = db.get('claim');
  const now = Date.now();
  const leaseUntil = now + Math.round(leaseMs);
  const claimed: Reservation[] = [];
  for (const queue of queues) {
    const wanted = max - claimed.length;
    if (wanted <= 0) break;
    if (groupConcurrency !== undefined) {
      const grouped = claimGrouped(db, { queue, now, leaseUntil, max: wanted, holder, groupConcurrency });
      if (grouped !== undefined) {
        claimed.push(...grouped);
        continue;
      }
    }
    const rows = claim.all({ queue, now, lease_until: leaseUntil, max: wanted, holder }) as ClaimRow[];
    // RETURNING gives rows in no defined order.
    rows.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    for (const row of rows) claimed.push(toReservation(row, row.token));
  }
  return claimed;
}

/**
 * Deletes each acknowledged job still held with its token, keeping `records[i]` of `acks[i]` where
 * one is given (and pruning its queue's finished jobs by `bounds`); returns the acks whose lease was
 * lost (the job is there under another token). A job already gone (acknowledged, cancelled) counts
 * as acknowledged, and keeps no record. Run inside a transaction when records are given.
 */
export function ackJobs(
  db: SqliteStatements,
  acks: readonly Reservation[],
  records: readonly (string | null)[],
  bounds: PruneBounds,
): Reservation[] {
  const ack = db.get('ack');
  const lost: Reservation[] = [];
  const kept: FinishedToKeep[] = [];
  acks.forEach((reservation, index) => {
    const deleted = ack.get({ job_id: reservation.id, token: reservation.token }) as { queue: string } | undefined;
    if (deleted === undefined) {
      if (db.exists(reservation.id)) lost.push(reservation);
      return;
    }
    const record = records[index];
    if (record !== undefined && record !== null) kept.push({ jobId: reservation.id, queue: deleted.queue, state: 'completed', record });
  });
  if (kept.length > 0) keepFinished(db, kept, bounds, Date.now());
  return lost;
}

/** Sets each lease to run out `leaseMs` from now; per reservation the new expiry (epoch ms), or undefined where the lease was lost. */
export function extendLeases(db: SqliteStatements, reservations: readonly Reservation[], leaseMs: number): (number | undefined)[] {
  const extend = db.get('extend');
  const leaseUntil = Date.now() + Math.round(leaseMs);
  return reservations.map((reservation) =>
    extend.run({ job_id: reservation.id, token: reservation.token, lease_until: leaseUntil }).changes === 1 ? leaseUntil : undefined,
  );
}

/**
 * Makes each job available again in its old place with neither count changed; skips those whose
 * lease was lost. Returns how many were given back.
 */
export function giveBackJobs(db: SqliteStatements, reservations: readonly Reservation[]): number {
  const giveBack = db.get('giveBack');
  let count = 0;
  for (const reservation of reservations) count += giveBack.run({ job_id: reservation.id, token: reservation.token }).changes;
  return count;
}
