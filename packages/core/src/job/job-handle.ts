import type { JobInfo, JobState } from '../driver/job-info.js';
import type { PushResult } from '../driver/queue-driver.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { JobCancelledError } from '../errors/job-cancelled-error.js';
import { JobFailedError } from '../errors/job-failed-error.js';
import { UnsupportedError } from '../errors/unsupported-error.js';
import { WaitTimeoutError } from '../errors/wait-timeout-error.js';

/** Looks a job up by id in its queue (a driver's, or a QueueManager connection's). */
export type JobLookup = (id: string, queue: string) => Promise<JobInfo | undefined>;

/** Options of {@link JobHandle.result}. */
export interface ResultOptions {
  /** Give up after this many ms with a WaitTimeoutError; default: wait as long as it takes. */
  readonly timeoutMs?: number;
  /** Aborting it ends the wait, rejecting with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** First and longest pause between two lookups while waiting for a result, in ms. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 500;

/**
 * What `dispatch()` returns: the push's outcome (`pushed`, `skipped`) and a handle on the job, to
 * ask where it is (`state()`, `info()`) or wait for what its handler returned (`result()`), from
 * any process that reaches the same backend.
 */
export class JobHandle<TResult = unknown> implements PushResult {
  /** The job id. */
  readonly id: string;
  /** The queue it was pushed to. */
  readonly queue: string;
  readonly pushed: readonly string[];
  readonly skipped: readonly string[];
  readonly #lookup: JobLookup | undefined;

  constructor(id: string, queue: string, push: PushResult, lookup: JobLookup | undefined) {
    this.id = id;
    this.queue = queue;
    this.pushed = push.pushed;
    this.skipped = push.skipped;
    this.#lookup = lookup;
  }

  /** False when the push was skipped (another live job held its id or unique key). */
  get dispatched(): boolean {
    return this.pushed.includes(this.id);
  }

  /** The job as the backend keeps it now; undefined when it knows no such job (never stored, or pruned). */
  info(): Promise<JobInfo | undefined> {
    if (this.#lookup === undefined) {
      return Promise.reject(new UnsupportedError(`job ${this.id}: this dispatcher cannot look jobs up`));
    }
    return this.#lookup(this.id, this.queue);
  }

  /** Where the job is now; `unknown` when the backend keeps no record of it. */
  async state(): Promise<JobState | 'unknown'> {
    return (await this.info())?.state ?? 'unknown';
  }

  /**
   * Waits until the job has finished and resolves with its handler's result; rejects with a
   * JobFailedError (dead-lettered: its reason and last error), a JobCancelledError, a
   * WaitTimeoutError after `timeoutMs`, or the signal's reason. A job that finished where
   * completed jobs are not kept (retention off, or pruned) rejects with an UnsupportedError.
   */
  async result(options: ResultOptions = {}): Promise<TResult> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
      throw new InvalidArgumentError(`result(): timeoutMs must be a number >= 0, got ${timeoutMs}`);
    }
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    let pollMs = FIRST_POLL_MS;
    for (;;) {
      signal?.throwIfAborted();
      const info = await this.info();
      if (info === undefined) {
        if (!this.dispatched)
          throw new InvalidArgumentError(`job ${this.id} was not dispatched: the push was skipped (its id or unique key was held)`);
        // It was stored, and nothing knows it any more: it finished and its record is not kept.
        throw new UnsupportedError(
          `job ${this.id} finished, but no record of it is kept (completed jobs are not retained, or it was pruned)`,
        );
      }
      if (info.state === 'completed') return info.result as TResult;
      if (info.state === 'failed') {
        const error = info.lastError ?? { name: 'Error', message: 'unknown error' };
        throw new JobFailedError(
          `job ${info.name ?? ''} (${this.id}) failed (${info.deadLetterReason ?? 'failed'}): ${error.message}`,
          info.deadLetterReason ?? 'failed',
          error,
        );
      }
      if (info.state === 'cancelled') throw new JobCancelledError(`job ${info.name ?? ''} (${this.id}) was cancelled`);
      const left = deadline - Date.now();
      if (left <= 0) throw new WaitTimeoutError(`job ${this.id} did not finish within ${timeoutMs} ms (it is ${info.state})`);
      await pause(Math.min(pollMs, left), signal);
      pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
    }
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
