import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** One problem a payload schema found: where (a dotted path, `` for the payload itself) and what. */
export interface PayloadIssue {
  /** Dotted path into the payload (`user.emails[0]`); empty for the payload as a whole. */
  readonly path: string;
  /** The schema's message. */
  readonly message: string;
}

/**
 * A payload that its job definition's schema refuses: thrown at dispatch (nothing is pushed), and
 * at run time it sends the job to the dead-letter store as `invalid-payload`, never retried.
 */
export class InvalidPayloadError extends QueueError {
  /** What the schema found, in its order. */
  readonly issues: readonly PayloadIssue[];

  constructor(message: string, issues: readonly PayloadIssue[], options: QueueErrorOptions = {}) {
    super('INVALID_PAYLOAD', message, options);
    this.issues = issues;
  }
}
