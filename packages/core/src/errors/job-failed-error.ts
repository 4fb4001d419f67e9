import type { DeadLetterReason } from '../driver/queue-driver.js';
import type { ErrorInfo } from '../envelope/job-envelope.js';
import { QueueError, type QueueErrorOptions } from './queue-error.js';

/** A handle's `result()` of a job that failed for good: its dead-letter reason and last error. */
export class JobFailedError extends QueueError {
  /** Why the job was dead-lettered. */
  readonly reason: DeadLetterReason;
  /** The job's last error as stored (name, message, stack). */
  readonly error: ErrorInfo;

  constructor(message: string, reason: DeadLetterReason, error: ErrorInfo, options: QueueErrorOptions = {}) {
    super('JOB_FAILED', message, options);
    this.reason = reason;
    this.error = error;
  }
}
