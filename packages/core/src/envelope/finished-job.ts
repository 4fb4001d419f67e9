import { PayloadDecodeError } from '../errors/payload-decode-error.js';
import type { JsonValue } from './job-envelope.js';

/** Largest handler result kept in a finished-job record, in bytes of JSON; larger ones are left out. */
export const MAX_KEPT_RESULT_BYTES = 64 * 1024;

/**
 * What a driver with retention keeps of a completed or cancelled job: one small JSON record, made
 * here and stored by the driver as it is, so every backend keeps the same thing. Times are epoch ms.
 */
export interface FinishedJob {
  readonly id: string;
  readonly queue: string;
  readonly name: string | undefined;
  readonly state: 'completed' | 'cancelled';
  /** Runs in all (the finishing one included); 0 for a job cancelled before it ran. */
  readonly attempts: number;
  /** The handler's result, when it returned one that is JSON and at most MAX_KEPT_RESULT_BYTES. */
  readonly result?: JsonValue;
  /** Why a result was not kept (not JSON, too large). */
  readonly resultOmitted?: string;
  readonly progress?: JsonValue;
  readonly createdAt: number | undefined;
  /** When the job was due (its envelope's `availableAt`), so a wait can be measured from records; absent in older records. */
  readonly availableAt?: number;
  readonly startedAt?: number;
  readonly finishedAt: number;
}

/** Encodes a finished-job record; a result that JSON cannot carry or that is too large is left out, and why is kept. */
export function encodeFinishedJob(job: FinishedJob): string {
  if (job.result === undefined) return JSON.stringify(job);
  let resultText: string | undefined;
  let omitted: string | undefined;
  try {
    resultText = JSON.stringify(job.result);
  } catch (error) {
    omitted = `result is not JSON: ${(error as Error).message}`;
  }
  if (resultText !== undefined && Buffer.byteLength(resultText, 'utf8') > MAX_KEPT_RESULT_BYTES) {
    omitted = `result of ${Buffer.byteLength(resultText, 'utf8')} bytes is larger than the ${MAX_KEPT_RESULT_BYTES} bytes kept`;
  }
  if (omitted === undefined && resultText !== undefined) return JSON.stringify(job);
  const { result: _dropped, ...rest } = job;
  return JSON.stringify({ ...rest, resultOmitted: omitted ?? 'result is not JSON' });
}

/** Reads a record written by {@link encodeFinishedJob}; throws PayloadDecodeError naming what is wrong. */
export function decodeFinishedJob(text: string): FinishedJob {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PayloadDecodeError(`finished-job record is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const r = value as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || typeof r.queue !== 'string') {
    throw new PayloadDecodeError('finished-job record: expected an object with id and queue');
  }
  if (r.state !== 'completed' && r.state !== 'cancelled') throw new PayloadDecodeError(`finished-job record ${r.id}: unknown state`);
  if (typeof r.finishedAt !== 'number') throw new PayloadDecodeError(`finished-job record ${r.id}: finishedAt is not a number`);
  return r as unknown as FinishedJob;
}
