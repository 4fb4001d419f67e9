import { InvalidArgumentError, type ScheduleLedgerEntry } from '@queuekit/core';
import { assertCoordinationKey } from './coordination-checks.js';

/** A `schedule_ledger` row as both dialects read it (numbers already numbers). */
export interface ScheduleLedgerRow {
  readonly tick_at: number | null;
  readonly tick_job_id: string | null;
  readonly tick_recorded_at: number | null;
  readonly run_job_id: string | null;
  readonly run_at: number | null;
}

/** The ledger entry of a row; undefined for no row. */
export function scheduleLedgerEntry(row: ScheduleLedgerRow | undefined): ScheduleLedgerEntry | undefined {
  if (row === undefined) return undefined;
  return {
    lastTickAt: row.tick_at ?? undefined,
    lastTickJobId: row.tick_job_id ?? undefined,
    lastTickRecordedAt: row.tick_recorded_at ?? undefined,
    lastRunJobId: row.run_job_id ?? undefined,
    lastRunAt: row.run_at ?? undefined,
  };
}

/** Throws unless `schedule`, `jobId` and `tickAt` (when given) are a ledger record's valid inputs. */
export function assertLedgerInput(dialect: string, schedule: unknown, jobId?: unknown, tickAt?: unknown): void {
  assertCoordinationKey(dialect, schedule, 'schedule name');
  if (jobId !== undefined) assertCoordinationKey(dialect, jobId, 'job id');
  if (tickAt !== undefined && !Number.isSafeInteger(tickAt)) {
    throw new InvalidArgumentError(`${dialect}: a schedule tick must be an integer epoch ms, got ${String(tickAt)}`);
  }
}
