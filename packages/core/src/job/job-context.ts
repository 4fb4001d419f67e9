import type { JobEnvelope, ParentInfo } from '../envelope/job-envelope.js';
import type { Logger } from '../logger/logger.js';

/** What a handler gets besides its payload. */
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
  /** Fires on timeout, on a lost lease, and when shutdown's grace period runs out. */
  readonly signal: AbortSignal;
  /** Logger bound to this job (sensitive keys masked). */
  readonly log: Logger;
  /** The job that triggered this one through then/catch/finally/chain, with its result or error. */
  readonly parent: ParentInfo | undefined;
  /** Prolongs the lease now (the worker also heartbeats on its own); resolves the new expiry, epoch ms. */
  extendLease(leaseMs?: number): Promise<number>;
  /** The stored envelope, read-only. */
  readonly envelope: JobEnvelope;
}
