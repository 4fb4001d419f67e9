import { type JobInfo, listJobs, MAX_JOB_LIST_LIMIT, type QueueDriver } from '@queuekit/core';
import { percentile, type QueueRates } from './job-rate-recorder.js';

/** Options of {@link retainedRates}. */
export interface RetainedRatesOptions {
  /** End of the window, epoch ms. */
  readonly now: number;
  /** Length of the window, in ms; default one hour. */
  readonly windowMs?: number;
  /** Width of one bucket, in ms; default one minute. */
  readonly bucketMs?: number;
  /** Most finished-job records read per queue (most recent first); default 5,000. */
  readonly maxRecords?: number;
}

/**
 * Throughput, wait and run times of one queue over the last hour, from the completed-job records
 * a driver with `capabilities.retention` keeps (most recently finished first, read a page of
 * 1,000 at a time up to `maxRecords`). `since` is the window's start when the records reach past
 * it, else the oldest record read (the backend pruned older ones, the read stopped at its bound, or
 * there were none): the numbers count from there. `failed` counts the queue's dead letters that
 * failed in the window and are still in the store (retried or purged ones are gone). Waits run
 * from a job's due time (its creation time in records that lack it) to the start of its last run.
 */
export async function retainedRates(driver: QueueDriver, queue: string, options: RetainedRatesOptions): Promise<QueueRates> {
  const windowMs = options.windowMs ?? 3_600_000;
  const bucketMs = options.bucketMs ?? 60_000;
  const maxRecords = options.maxRecords ?? 5_000;
  const { now } = options;
  const count = Math.ceil(windowMs / bucketMs);
  const firstStart = now - (now % bucketMs) - (count - 1) * bucketMs;

  const inWindow: JobInfo[] = [];
  let reachedPast = false;
  let read = 0;
  let oldestRead: number | undefined;
  while (!reachedPast && read < maxRecords) {
    const limit = Math.min(MAX_JOB_LIST_LIMIT, maxRecords - read);
    const page = await listJobs(driver, { queue, state: 'completed', limit, offset: read });
    read += page.length;
    for (const job of page) {
      const finishedAt = job.finishedAt;
      if (finishedAt === undefined) continue;
      oldestRead = Math.min(oldestRead ?? finishedAt, finishedAt);
      if (finishedAt < firstStart) reachedPast = true;
      else if (finishedAt <= now) inWindow.push(job);
    }
    if (page.length < limit) break;
  }

  const perBucket = new Array<number>(count).fill(0);
  const waits: number[] = [];
  const runs: number[] = [];
  for (const job of inWindow) {
    const index = Math.floor(((job.finishedAt as number) - firstStart) / bucketMs);
    perBucket[index] = (perBucket[index] as number) + 1;
    const dueAt = job.availableAt ?? job.createdAt;
    if (job.startedAt !== undefined && dueAt !== undefined) waits.push(Math.max(0, job.startedAt - dueAt));
    if (job.startedAt !== undefined) runs.push(Math.max(0, (job.finishedAt as number) - job.startedAt));
  }
  waits.sort((a, b) => a - b);
  runs.sort((a, b) => a - b);
  const [deadNow, deadBefore] = await Promise.all([
    driver.deadLetters.count({ queue }),
    driver.deadLetters.count({ queue, failedBefore: firstStart }),
  ]);
  return {
    source: 'retained',
    windowMs,
    bucketMs,
    since: reachedPast ? firstStart : Math.max(firstStart, oldestRead ?? now),
    completed: inWindow.length,
    failed: Math.max(0, deadNow - deadBefore),
    completedPerBucket: perBucket,
    waitP50Ms: percentile(waits, 0.5),
    waitP95Ms: percentile(waits, 0.95),
    runP50Ms: percentile(runs, 0.5),
    runP95Ms: percentile(runs, 0.95),
  };
}
