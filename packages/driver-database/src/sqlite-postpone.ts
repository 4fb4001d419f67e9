import type { PostponeOptions, Reservation } from '@queuekit/core';
import { leaseLostError } from './lease-lost.js';
import type { sqliteCoordinationSql } from './sql/coordination-sql.js';
import type { SqliteStatements } from './sqlite-statements.js';

/**
 * Hands a delivery back unrun, due after `options.delayMs` (this process's clock), neither count
 * changed. LeaseLostError when its lease was lost.
 */
export function postponeSqlite(
  db: SqliteStatements,
  sql: ReturnType<typeof sqliteCoordinationSql>,
  reservation: Reservation,
  options: PostponeOptions,
): void {
  const info = db.prepare('coordinationPostpone', sql.postpone).run({
    job_id: reservation.id,
    token: reservation.token,
    available_at: Date.now() + Math.round(options.delayMs),
  });
  if (info.changes === 0) throw leaseLostError('sqlite', 'postpone', reservation, db.exists(reservation.id));
}
