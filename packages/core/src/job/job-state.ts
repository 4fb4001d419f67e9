import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';

/** Where a Job object is in its life on the producer side. */
export type JobStatus = 'draft' | 'dispatched' | 'skipped';

/** State concern of a Job: status, attempts allowed and the unique key. */
export class JobState {
  status: JobStatus = 'draft';
  #maxAttempts: number;
  #uniqueKey: string | undefined;

  constructor(maxAttempts: number) {
    this.#maxAttempts = JobState.checkAttempts(maxAttempts);
  }

  /** Deliveries allowed before the job is dead-lettered. */
  get maxAttempts(): number {
    return this.#maxAttempts;
  }

  set maxAttempts(value: number) {
    this.#maxAttempts = JobState.checkAttempts(value);
  }

  /** While a job with this key is queued, delayed or reserved, dispatching another is skipped. */
  get uniqueKey(): string | undefined {
    return this.#uniqueKey;
  }

  set uniqueKey(value: string | undefined) {
    if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 200)) {
      throw new InvalidArgumentError(`uniqueKey: expected 1-200 characters, got ${quoteInput(value)}`);
    }
    this.#uniqueKey = value;
  }

  /** Throws unless the job is still a draft (a dispatched Job is not changed or sent twice). */
  assertDraft(action: string): void {
    if (this.status !== 'draft') throw new InvalidArgumentError(`${action}: the job was already ${this.status}`);
  }

  static checkAttempts(value: number): number {
    if (!Number.isInteger(value) || value < 1)
      throw new InvalidArgumentError(`maxAttempts: expected an integer >= 1, got ${quoteInput(value)}`);
    return value;
  }
}
