import type { JobRegistry, Logger, PayloadSerializer, RegisteredJob } from '@queuekit/core';

/** Options of {@link createSyncDriver}. */
export interface SyncDriverOptions {
  /** Handlers run inline at push time. */
  readonly jobs: JobRegistry | readonly RegisteredJob[];
  /** Time limit of a job that sets none, in ms; default none. */
  readonly defaultTimeoutMs?: number;
  /**
   * Honour retry delays by really sleeping (true) or retry at once (false, the default): inline runs
   * are for tests and scripts, where waiting out a backoff only slows them down.
   */
  readonly sleepOnRetry?: boolean;
  /** Largest encoded envelope accepted, in bytes; default 1 MiB. */
  readonly maxMessageBytes?: number;
  readonly logger?: Logger;
  readonly serializer?: PayloadSerializer;
}
