import { newJobId } from '../envelope/job-id.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';

/** Job names: 1–200 characters of letters, digits, `.`, `_`, `-`, `:` and `/`. */
export const JOB_NAME_PATTERN = /^[A-Za-z0-9._:/-]{1,200}$/;

/** Throws InvalidArgumentError unless `name` is a valid job name. */
export function assertJobName(name: string): void {
  if (typeof name !== 'string' || !JOB_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(`job name: expected 1-200 characters of letters, digits and . _ : / -, got ${quoteInput(name)}`);
  }
}

/** Identity concern of a Job: its name and id. */
export class JobIdentity {
  readonly name: string;
  #id: string;

  constructor(name: string) {
    assertJobName(name);
    this.name = name;
    this.#id = newJobId();
  }

  /** The job id: a UUID (version 7, time-ordered) unless set. */
  get id(): string {
    return this.#id;
  }

  /** Sets an explicit id (1–200 printable characters). */
  setId(id: string): void {
    if (typeof id !== 'string' || id.length === 0 || id.length > 200 || !/^[\x21-\x7e]+$/.test(id)) {
      throw new InvalidArgumentError(`job id: expected 1-200 printable ASCII characters without spaces, got ${quoteInput(id)}`);
    }
    this.#id = id;
  }
}
