import type { FinishedJob } from '../envelope/finished-job.js';
import { fromBackend, type JobEnvelope, type JsonValue } from '../envelope/job-envelope.js';
import type { DriverJobState, JobInfo, JobLease } from './job-info.js';

/** What a driver knows of a live (waiting, delayed or active) job, for {@link liveJobInfo}. */
export interface LiveJobFacts {
  readonly id: string;
  readonly queue: string;
  readonly state: Exclude<DriverJobState, 'completed' | 'cancelled'>;
  /** The stored body (encoded envelope, or a poison body). */
  readonly body: string | Uint8Array;
  /** Failed runs so far. */
  readonly attempts: number;
  /** When the job is due (backend clock), when the driver keeps it apart from the envelope. */
  readonly availableAt?: number;
  /** The stored progress JSON text. */
  readonly progress?: string;
  /** The lease, for an active job. */
  readonly lease?: JobLease;
  /** When the current run started (backend clock), where the driver knows. */
  readonly startedAt?: number;
}

/**
 * A {@link JobInfo} from what a driver read of a live job: the envelope decoded (a poison body gives
 * a job with no name and no envelope), the last error taken from its failure history. Every driver
 * builds its lookups here, so they all answer alike.
 */
export function liveJobInfo(facts: LiveJobFacts): JobInfo {
  let envelope: JobEnvelope | undefined;
  try {
    envelope = fromBackend(facts.body);
  } catch {
    // A poison body is still a job that can be looked up: without a name or an envelope.
    envelope = undefined;
  }
  const progress = parseProgress(facts.progress);
  const availableAt = facts.availableAt ?? envelope?.availableAt;
  return {
    id: facts.id,
    queue: facts.queue,
    name: envelope?.name,
    state: facts.state,
    envelope,
    attempts: facts.attempts,
    ...(envelope?.failure === undefined ? {} : { lastError: envelope.failure.lastError }),
    ...(progress === undefined ? {} : { progress }),
    createdAt: envelope?.createdAt,
    ...(availableAt === undefined ? {} : { availableAt }),
    ...(facts.startedAt === undefined ? {} : { startedAt: facts.startedAt }),
    ...(facts.lease === undefined ? {} : { lease: facts.lease }),
  };
}

/** A {@link JobInfo} from a finished-job record (completed or cancelled). */
export function finishedJobInfo(record: FinishedJob): JobInfo {
  return {
    id: record.id,
    queue: record.queue,
    name: record.name,
    state: record.state,
    envelope: undefined,
    attempts: record.attempts,
    ...(record.result === undefined ? {} : { result: record.result }),
    ...(record.progress === undefined ? {} : { progress: record.progress }),
    createdAt: record.createdAt,
    ...(record.availableAt === undefined ? {} : { availableAt: record.availableAt }),
    ...(record.startedAt === undefined ? {} : { startedAt: record.startedAt }),
    finishedAt: record.finishedAt,
  };
}

function parseProgress(text: string | undefined): JsonValue | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    // Progress is written by core as JSON; anything else is shown as the text it is.
    return text;
  }
}

/** The finished-job record of a live job cancelled at `finishedAt`: what drivers keep when `cancel()` ends it. */
export function cancelledJob(info: JobInfo, finishedAt: number): FinishedJob {
  return {
    id: info.id,
    queue: info.queue,
    name: info.name,
    state: 'cancelled',
    attempts: info.attempts,
    ...(info.progress === undefined ? {} : { progress: info.progress }),
    createdAt: info.createdAt,
    ...(info.startedAt === undefined ? {} : { startedAt: info.startedAt }),
    finishedAt,
  };
}
