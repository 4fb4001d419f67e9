import type { PostponeOptions, Reservation } from '@queuekit/core';
import { leaseLostError } from './lease-lost.js';
import type { PostgresExecutor } from './postgres-rate-limit-store.js';
import { assertMs } from './rows.js';
import type { postgresCoordinationSql } from './sql/coordination-sql.js';

/**
 * Hands a delivery back unrun, due after `options.delayMs`, neither count changed; notifies the
 * queue's channel when it is due at once. LeaseLostError when its lease was lost.
 */
export async function postponePostgres(
  execute: PostgresExecutor,
  sql: ReturnType<typeof postgresCoordinationSql>,
  channel: string,
  reservation: Reservation,
  options: PostponeOptions,
): Promise<void> {
  assertMs('postgres', 'delayMs', options.delayMs, 0);
  const { rows } = await execute('postpone', sql.postpone, [reservation.id, reservation.token, Math.ceil(options.delayMs), channel]);
  const row = rows[0] as { changed: number; present: boolean };
  if (row.changed === 0) throw leaseLostError('postgres', 'postpone', reservation, row.present);
}
