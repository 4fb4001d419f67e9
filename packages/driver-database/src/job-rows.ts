import { InvalidArgumentError, type JobInfo, type JobLookupOptions, quoteInput } from '@queuekit/core';
import { cancelledJob, decodeFinishedJob, encodeFinishedJob, finishedJobInfo, liveJobInfo, type Retention } from '@queuekit/core/driver';
import { assertQueue } from './rows.js';

/** A live job as both dialects' lookup statements return it. Times are epoch ms (PostgreSQL: float8, may be null). */
export interface LiveJobRow {
  readonly job_id: string;
  readonly queue: string;
  /** `waiting`, `delayed` or `active`, decided by the statement on the backend's clock. */
  readonly state: 'waiting' | 'delayed' | 'active';
  readonly body: string;
  readonly attempts: number;
  readonly progress: string | null;
  readonly holder: string | null;
  readonly available_at: number | string;
  readonly lease_expires_at: number | string | null;
  readonly claimed_at: number | string | null;
}

/** A live job row as a {@link JobInfo}, built by core's `liveJobInfo` so every driver answers alike. */
export function liveInfo(row: LiveJobRow): JobInfo {
  const active = row.state === 'active';
  return liveJobInfo({
    id: row.job_id,
    queue: row.queue,
    state: row.state,
    body: row.body,
    attempts: Number(row.attempts),
    availableAt: Math.round(Number(row.available_at)),
    ...(row.progress === null ? {} : { progress: row.progress }),
    ...(active ? { lease: { holder: row.holder ?? undefined, expiresAt: Math.round(Number(row.lease_expires_at)) } } : {}),
    ...(active && row.claimed_at !== null ? { startedAt: Math.round(Number(row.claimed_at)) } : {}),
  });
}

/** A stored finished-job record (completed or cancelled) as a {@link JobInfo}. */
export function finishedInfo(record: string): JobInfo {
  return finishedJobInfo(decodeFinishedJob(record));
}

/** The finished-job record `cancel()` keeps of a live job ended at `finishedAt` (epoch ms, backend clock). */
export function cancelledRecord(row: LiveJobRow, finishedAt: number): string {
  return encodeFinishedJob(cancelledJob(liveInfo(row), Math.round(finishedAt)));
}

/**
 * The bounds the ack and cancel statements prune finished jobs by. Age is pruned on every store
 * (one index probe that usually finds nothing). Count costs a walk of `count` index entries, so it
 * runs with a chance of 1 in `every` per row stored (a tenth of `count`): a queue keeps `count`
 * plus on average a tenth more between prunes, and one prune deletes that slack at once. Chance,
 * not the row's sequence number, so that no pattern of acks across queues starves one of prunes.
 */
export interface PruneBounds {
  /** Finished jobs kept per queue. */
  readonly count: number;
  /** Finished jobs older than this are deleted, in ms. */
  readonly ageMs: number;
  /** Prune by count with a chance of 1 in this per row stored (1 = on every store). */
  readonly every: number;
}

/** The prune bounds of a resolved retention (cancelled records keep its bounds when completed ones are off). */
export function pruneBounds(retention: Retention): PruneBounds {
  return { count: retention.count, ageMs: retention.ageMs, every: retention.pruneStep };
}

/** Checks the id and options of a lookup or cancel; resolves the queue (or null) as the statements take it. */
export function lookupQueue(dialect: 'postgres' | 'sqlite', operation: string, id: string, options: JobLookupOptions): string | null {
  if (typeof id !== 'string' || id === '')
    throw new InvalidArgumentError(`${dialect}: ${operation}: expected a job id, got ${quoteInput(id)}`);
  if (options.queue === undefined) return null;
  assertQueue(dialect, options.queue);
  return options.queue;
}

/** Throws InvalidArgumentError unless `progress` is the JSON text core makes of a progress value. */
export function assertProgress(dialect: 'postgres' | 'sqlite', progress: string): void {
  if (typeof progress !== 'string' || progress === '') {
    throw new InvalidArgumentError(`${dialect}: setProgress: expected JSON text, got ${quoteInput(progress)}`);
  }
}

/**
 * The records an ack batch stores, per acknowledgement in order (null where none): at most one per
 * job id (the last given) and at most `count` per queue (the last ones), since the PostgreSQL
 * statement that stores them cannot see them to prune them. Cheaper here than sorting in SQL.
 */
export function keptRecords(
  acks: readonly { readonly id: string; readonly queue: string }[],
  records: readonly (string | null)[],
  count: number,
): (string | null)[] {
  const kept = [...records];
  const seen = new Set<string>();
  const perQueue = new Map<string, number>();
  for (let i = kept.length - 1; i >= 0; i--) {
    const ack = acks[i];
    if (kept[i] === null || ack === undefined) continue;
    const stored = perQueue.get(ack.queue) ?? 0;
    if (seen.has(ack.id) || stored >= count) {
      kept[i] = null;
      continue;
    }
    seen.add(ack.id);
    perQueue.set(ack.queue, stored + 1);
  }
  return kept;
}
