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

/**
 * The record as stored: one JSON array, positional, so the Worker writes ~100 bytes per completed
 * job rather than an object of ~200 (the names of its fields), and builds it without
 * JSON.stringify walking an object:
 *
 *   [1, id, queue, state, name, attempts, createdAt, availableAt, startedAt, finishedAt, extra?]
 *
 * 1 is the format; absent times and name are null; `extra` is present only when the record has a
 * result, a resultOmitted or a progress: `{ "result"?, "resultOmitted"?, "progress"? }`.
 * Records kept as a JSON object (the earlier format) still decode.
 */
const FORMAT = 1;

/**
 * The members between the id and the attempts of the last record encoded (`"queue","state",name,`)
 * and what they were made of: a worker finishes many jobs of one queue and name in a row, so
 * their JSON is made once per run of them rather than once per job.
 */
let middle = { queue: '', state: '', name: undefined as string | undefined, text: '' };

/** Encodes a finished-job record; a result that JSON cannot carry or that is too large is left out, and why is kept. */
export function encodeFinishedJob(job: FinishedJob): string {
  const { queue, state, name } = job;
  if (middle.queue !== queue || middle.state !== state || middle.name !== name || middle.text === '') {
    middle = { queue, state, name, text: `${JSON.stringify(queue)},"${state}",${text(name)},` };
  }
  const extra = extraOf(job);
  return `[${FORMAT},${jsonText(job.id)},${middle.text}${num(job.attempts)},${num(job.createdAt)},${num(job.availableAt)},${num(job.startedAt)},${num(job.finishedAt)}${extra === undefined ? ']' : `,${extra}]`}`;
}

/** The `extra` member's JSON, or undefined when the record has none of its fields. */
function extraOf(job: FinishedJob): string | undefined {
  if (job.result === undefined && job.resultOmitted === undefined && job.progress === undefined) return undefined;
  const extra: { result?: JsonValue; resultOmitted?: string; progress?: JsonValue } = {};
  let omitted = job.resultOmitted;
  if (job.result !== undefined) {
    let resultText: string | undefined;
    try {
      resultText = JSON.stringify(job.result);
    } catch (error) {
      omitted = `result is not JSON: ${(error as Error).message}`;
    }
    if (resultText === undefined) omitted ??= 'result is not JSON';
    else if (Buffer.byteLength(resultText, 'utf8') > MAX_KEPT_RESULT_BYTES) {
      omitted = `result of ${Buffer.byteLength(resultText, 'utf8')} bytes is larger than the ${MAX_KEPT_RESULT_BYTES} bytes kept`;
    } else extra.result = job.result;
  }
  if (omitted !== undefined) extra.resultOmitted = omitted;
  if (job.progress !== undefined) extra.progress = job.progress;
  return JSON.stringify(extra);
}

/** Characters a JSON string carries as they are: an id made of them is quoted, not serialized. */
const PLAIN = /^[\w.:@/+-]*$/;
/** A string as JSON: quoted when it is plain (ids are: ~15 ns against ~350 for JSON.stringify), else JSON.stringify's text. */
const jsonText = (value: string): string => (PLAIN.test(value) ? `"${value}"` : JSON.stringify(value));
// A number is written by the template it goes into (no String() copy); NaN, Infinity and undefined as null.
const num = (value: number | undefined): number | 'null' => (value !== undefined && Number.isFinite(value) ? value : 'null');
const text = (value: string | undefined): string => (value === undefined ? 'null' : JSON.stringify(value));

/** Reads a record written by {@link encodeFinishedJob}; throws PayloadDecodeError naming what is wrong. */
export function decodeFinishedJob(text: string): FinishedJob {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PayloadDecodeError(`finished-job record is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const r = Array.isArray(value) ? fromArray(value) : (value as Record<string, unknown> | null);
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || typeof r.queue !== 'string') {
    throw new PayloadDecodeError('finished-job record: expected an object with id and queue');
  }
  if (r.state !== 'completed' && r.state !== 'cancelled') throw new PayloadDecodeError(`finished-job record ${r.id}: unknown state`);
  if (typeof r.finishedAt !== 'number') throw new PayloadDecodeError(`finished-job record ${r.id}: finishedAt is not a number`);
  return r as unknown as FinishedJob;
}

/** The record's fields from its array form; members that are null are left out. */
function fromArray(value: unknown[]): Record<string, unknown> {
  if (value[0] !== FORMAT) throw new PayloadDecodeError(`finished-job record: unknown format ${JSON.stringify(value[0])}`);
  const [, id, queue, state, name, attempts, createdAt, availableAt, startedAt, finishedAt, extra] = value;
  const r: Record<string, unknown> = { id, queue, state, name: name ?? undefined, attempts, createdAt: createdAt ?? undefined };
  if (availableAt !== null) r.availableAt = availableAt;
  if (startedAt !== null) r.startedAt = startedAt;
  r.finishedAt = finishedAt;
  if (extra !== undefined) {
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
      throw new PayloadDecodeError(`finished-job record ${String(id)}: its last member is not an object`);
    }
    const { result, resultOmitted, progress } = extra as Record<string, unknown>;
    if (result !== undefined) r.result = result;
    if (resultOmitted !== undefined) r.resultOmitted = resultOmitted;
    if (progress !== undefined) r.progress = progress;
  }
  return r;
}
