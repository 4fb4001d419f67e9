import type { QueueDriver } from '@queuekit/core';
import { formatDuration } from '@queuekit/core';

/** Default period of the status line on a terminal, in ms. */
export const DEFAULT_STATUS_INTERVAL_MS = 5_000;

/** What the status line reads, kept current by the caller. */
export interface WorkCounts {
  /** Jobs completed so far. */
  completed: number;
  /** Runs that failed so far (retried or dead-lettered). */
  failed: number;
}

/** Options of {@link startStatusLine}. */
export interface StatusLineOptions {
  readonly driver: QueueDriver;
  readonly queues: readonly string[];
  readonly counts: Readonly<WorkCounts>;
  /** Jobs running or settling now. */
  readonly active: () => number;
  readonly intervalMs: number;
  /** Writes one status (text for people, fields for `--json`). */
  readonly write: (fields: Record<string, unknown>, text: string) => void;
  /** Told when the backend could not say how old the oldest ready job is. */
  readonly onError: (error: Error) => void;
}

/**
 * Prints a status line every `intervalMs`: jobs per second over the last period, completed,
 * failed, active, and how long the oldest ready job of the worker's queues has waited. Returns
 * a function that stops it.
 */
export function startStatusLine(options: StatusLineOptions): () => void {
  let last = { at: Date.now(), done: 0 };
  let writing = false;
  const tick = async () => {
    // A slow backend must not stack up stats calls.
    if (writing) return;
    writing = true;
    try {
      const now = Date.now();
      const done = options.counts.completed + options.counts.failed;
      const perSecond = ((done - last.done) * 1_000) / Math.max(1, now - last.at);
      last = { at: now, done };
      const oldestWaitMs = await oldestWait(options, now);
      const fields = {
        time: new Date(now).toISOString(),
        event: 'status',
        jobsPerSecond: Math.round(perSecond * 10) / 10,
        completed: options.counts.completed,
        failed: options.counts.failed,
        active: options.active(),
        oldestWaitMs,
      };
      options.write(
        fields,
        `${fields.time}  status: ${fields.jobsPerSecond} jobs/s, ${fields.completed} completed, ${fields.failed} failed, ${fields.active} active, oldest wait ${oldestWaitMs === null ? '-' : formatDuration(oldestWaitMs)}`,
      );
    } finally {
      writing = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Age of the oldest ready job across the queues, in ms; null when none is ready or stats failed. */
async function oldestWait(options: StatusLineOptions, now: number): Promise<number | null> {
  try {
    const stats = await Promise.all(options.queues.map((queue) => options.driver.stats(queue)));
    const oldest = Math.min(...stats.map((s) => s.oldestReadyAt ?? Number.POSITIVE_INFINITY));
    return Number.isFinite(oldest) ? Math.max(0, now - oldest) : null;
  } catch (error) {
    options.onError(error instanceof Error ? error : new Error(String(error)));
    return null;
  }
}
