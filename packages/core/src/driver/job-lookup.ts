import { UnsupportedError } from '../errors/unsupported-error.js';
import type { CancelOutcome, JobInfo, JobListOptions, JobLookupOptions, JobState } from './job-info.js';
import type { DeadLetterEntry, QueueDriver } from './queue-driver.js';

/**
 * A job by id in any state: what the driver keeps of it (waiting, delayed, active, and the finished
 * jobs it retains), else its dead letter (`failed`). `undefined` when neither knows the id.
 * UnsupportedError for a driver without `capabilities.lookup`.
 */
export async function lookupJob(driver: QueueDriver, id: string, options: JobLookupOptions = {}): Promise<JobInfo | undefined> {
  const live = await member(driver, 'getJob', 'lookup', 'looking up a job by id').call(driver, id, options);
  if (live !== undefined) return live;
  const dead = await driver.deadLetters.get(id);
  if (dead === undefined || (options.queue !== undefined && dead.queue !== options.queue)) return undefined;
  return deadLetterJobInfo(dead);
}

/** Options of {@link listJobs}: like the driver's, with `failed` listing dead letters. */
export interface ListJobsOptions extends Omit<JobListOptions, 'state'> {
  readonly state: JobState;
}

/**
 * Jobs of one queue in one state; `failed` ones come from the dead-letter store (most recent
 * first). UnsupportedError for a driver without `capabilities.lookup` (dead letters excepted).
 */
export async function listJobs(driver: QueueDriver, options: ListJobsOptions): Promise<JobInfo[]> {
  if (options.state === 'failed') {
    const { state: _failed, ...paging } = options;
    return (await driver.deadLetters.list(paging)).map(deadLetterJobInfo);
  }
  return member(driver, 'listJobs', 'lookup', 'listing jobs by state').call(driver, { ...options, state: options.state });
}

/** Cancels one job by id (see QueueDriver.cancel); UnsupportedError for a driver without `capabilities.cancel`. */
export function cancelJob(driver: QueueDriver, id: string, options: JobLookupOptions = {}): Promise<CancelOutcome> {
  return member(driver, 'cancel', 'cancel', 'cancelling a job').call(driver, id, options);
}

/** Pauses claims from a queue; UnsupportedError for a driver without `capabilities.pause`. */
export function pauseQueue(driver: QueueDriver, queue: string): Promise<void> {
  return member(driver, 'pause', 'pause', 'pausing a queue').call(driver, queue);
}

/** Resumes claims from a queue; UnsupportedError for a driver without `capabilities.pause`. */
export function resumeQueue(driver: QueueDriver, queue: string): Promise<void> {
  return member(driver, 'resume', 'pause', 'resuming a queue').call(driver, queue);
}

/** A dead letter as a `failed` job. */
export function deadLetterJobInfo(entry: DeadLetterEntry): JobInfo {
  return {
    id: entry.id,
    queue: entry.queue,
    name: entry.name,
    state: 'failed',
    envelope: entry.envelope,
    attempts: entry.attempts,
    lastError: entry.error,
    createdAt: entry.envelope?.createdAt,
    ...(entry.envelope === undefined ? {} : { availableAt: entry.envelope.availableAt }),
    finishedAt: entry.failedAt,
    deadLetterReason: entry.reason,
  };
}

type OptionalMember = 'getJob' | 'listJobs' | 'cancel' | 'pause' | 'resume';

function member<K extends OptionalMember>(driver: QueueDriver, key: K, capability: string, what: string): NonNullable<QueueDriver[K]> {
  const found = driver[key];
  if (found === undefined) {
    throw new UnsupportedError(`${driver.name}: ${what} is not supported by this driver (capabilities.${capability} is false)`);
  }
  return found as NonNullable<QueueDriver[K]>;
}
