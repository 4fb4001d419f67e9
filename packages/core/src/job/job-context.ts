import type { JobEnvelope, JsonValue, ParentInfo } from '../envelope/job-envelope.js';
import type { Logger } from '../logger/logger.js';

/**
 * What a handler gets besides its payload: a plain object whose members are its own, so a copy
 * (`{ ...ctx, extra }`) or a destructuring keeps every one of them.
 */
export interface JobContext {
  /** The job id. */
  readonly id: string;
  /** The job name. */
  readonly name: string;
  /** The queue it was reserved from. */
  readonly queue: string;
  /** This delivery's number, 1 for the first (counted by the driver at claim). */
  readonly attempt: number;
  /** Deliveries allowed in all. */
  readonly maxAttempts: number;
  /**
   * Fires on timeout, on a lost lease, when shutdown's grace period runs out, and (with a
   * JobCancelledError) when the job is cancelled while it runs, at the next lease renewal.
   */
  readonly signal: AbortSignal;
  /** Logger bound to this job (sensitive keys masked). */
  readonly log: Logger;
  /** The job that triggered this one through then/catch/finally/chain, with its result or error. */
  readonly parent: ParentInfo | undefined;
  /** Prolongs the lease now (the worker also heartbeats on its own); resolves the new expiry, epoch ms. */
  extendLease(leaseMs?: number): Promise<number>;
  /**
   * Reports progress (a number, or JSON of at most 16 KiB): kept with the job where the driver
   * stores progress (`capabilities.progress`), shown by lookups and `queue job show`, and emitted as
   * the worker's `progress` event. Cheap to call often: writes are coalesced to one per 250 ms,
   * the last value always written. InvalidArgumentError for a value that is not JSON or too large.
   */
  progress(value: JsonValue): void;
  /** The stored envelope, read-only. */
  readonly envelope: JobEnvelope;
}
