import type { CoordinationStore } from '../coordination/coordination-store.js';
import type { JobState } from '../driver/job-info.js';
import type { QueueDriver } from '../driver/queue-driver.js';
import { nextTick, type ScheduleDefinition, scheduleLedger, validateSchedules } from './schedule-definition.js';

/** A schedule as the ledger and the backend see it now. Times are epoch ms on the backend's clock. */
export interface ScheduleStatus {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  /** The next tick after the backend's now. */
  readonly nextTickAt: number;
  /** The latest tick fired by any scheduler; undefined when none was. */
  readonly lastTickAt: number | undefined;
  /** The job of that tick (or, for a tick skipped by overlap, the job still running then). */
  readonly lastTickJobId: string | undefined;
  /**
   * State of that job: a JobState, `'unknown'` when the backend no longer knows the id, or
   * undefined when the driver has no job lookups (or no tick was fired).
   */
  readonly lastOutcome: JobState | 'unknown' | undefined;
  /** Job of the latest manual run, and when it was recorded; undefined when there was none. */
  readonly lastRunJobId: string | undefined;
  readonly lastRunAt: number | undefined;
}

/** Reads the status of each schedule from the driver's ledger (or `ledger`), with the state of its last job where the driver has lookups. */
export async function scheduleStatuses(
  driver: QueueDriver,
  schedules: readonly ScheduleDefinition[],
  ledger?: CoordinationStore,
): Promise<ScheduleStatus[]> {
  validateSchedules(schedules, driver);
  ledger ??= scheduleLedger(driver);
  const now = await ledger.now();
  const statuses: ScheduleStatus[] = [];
  for (const schedule of schedules) {
    const entry = await ledger.scheduleEntry(schedule.name);
    const jobId = entry?.lastTickJobId;
    let lastOutcome: ScheduleStatus['lastOutcome'];
    if (jobId !== undefined && driver.capabilities.lookup && driver.getJob !== undefined) {
      lastOutcome = (await driver.getJob(jobId))?.state ?? ((await driver.deadLetters.get(jobId)) ? 'failed' : 'unknown');
    }
    statuses.push({
      name: schedule.name,
      cron: schedule.cron,
      timezone: schedule.timezone ?? 'UTC',
      nextTickAt: nextTick(schedule, now),
      lastTickAt: entry?.lastTickAt,
      lastTickJobId: jobId,
      lastOutcome,
      lastRunJobId: entry?.lastRunJobId,
      lastRunAt: entry?.lastRunAt,
    });
  }
  return statuses;
}

/**
 * Fires `schedule` now, once, outside its tick sequence: builds its job for the backend's now,
 * pushes it and records it in the ledger as a manual run (the last fired tick is unchanged, so
 * the next tick fires as usual). Resolves the job id.
 */
export async function runScheduleNow(driver: QueueDriver, schedule: ScheduleDefinition, ledger?: CoordinationStore): Promise<string> {
  validateSchedules([schedule], driver);
  ledger ??= scheduleLedger(driver);
  const job = schedule.job(await ledger.now());
  await job.dispatch(driver);
  await ledger.recordManualRun(schedule.name, job.id);
  return job.id;
}
