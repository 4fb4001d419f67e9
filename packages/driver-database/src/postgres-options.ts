import { ConfigError, type QueueError, type RetentionOptions } from '@queuekit/core';
import type pg from 'pg';
import { assertOptionsObject } from './option-checks.js';

/** Options of {@link createPostgresDriver}. Give exactly one of `connectionString` and `pool`. */
export interface PostgresDriverOptions {
  /** A libpq connection URL; the driver creates (and on close ends) its own pool. */
  readonly connectionString?: string;
  /** An existing pg Pool to share with the application; the driver never ends it. */
  readonly pool?: pg.Pool;
  /** `application_name` of the connections the driver opens (visible in pg_stat_activity); default `queuekit`. */
  readonly applicationName?: string;
  /** Connections in the pool the driver creates; default 10. Ignored with `pool`. */
  readonly poolSize?: number;
  /**
   * Schema holding the driver's tables (`jobs`, `failed_jobs`, `finished_jobs`, `paused_queues`,
   * `rate_limits`, `schema_migrations`): 1–50 characters of a-z, 0-9 and `_`; default `queuekit`.
   */
  readonly schema?: string;
  /**
   * `auto` (default): the first call migrates the schema to the newest version (idempotent, under an
   * advisory lock). `manual`: the first call only checks the version and fails with a clear error
   * until `migrate()` (or `queue migrate`) has run.
   */
  readonly migrate?: 'auto' | 'manual';
  /**
   * LISTEN/NOTIFY wake-ups for waiting reserves; default true. Without it (or while the listener
   * reconnects) a waiting reserve polls every `pollIntervalMs`.
   */
  readonly listen?: boolean;
  /** Fallback poll of a waiting reserve, in ms (delayed jobs, expired leases, missed notifications); default 1000. */
  readonly pollIntervalMs?: number;
  /**
   * Whether claims, acks, releases, extends and dead-letter moves wait for the WAL flush; default
   * false. Pushes always do. Without the wait a server crash can undo the last settles (the jobs are
   * delivered again: at-least-once holds) and every settle saves one disk flush (~3 ms on a typical disk).
   */
  readonly durableSettle?: boolean;
  /** Largest encoded envelope `push()` accepts, in bytes; default 16 MiB. */
  readonly maxMessageBytes?: number;
  /**
   * Completed jobs kept per queue in `finished_jobs` (with their results, for lookups), pruned by
   * count and age as new ones are stored; default the last 1,000 for at most 24 h. `false` keeps no
   * completed jobs (cancelled ones are still kept, within the default bounds).
   */
  readonly retention?: RetentionOptions;
  /**
   * Called with errors of work no caller waits for: the LISTEN connection dropping (it reconnects),
   * an idle pool connection killed by the server, the background ANALYZE of the jobs table.
   * Default: ignored (they are still counted in `recoveredErrors`).
   */
  readonly onBackgroundError?: (error: QueueError) => void;
}

/** Checks the connection options of {@link PostgresDriverOptions}; ConfigError naming the key that is wrong. */
export function assertPostgresOptions(options: PostgresDriverOptions): void {
  assertOptionsObject('postgres', options);
  const hasUrl = options.connectionString !== undefined;
  const hasPool = options.pool !== undefined;
  if (hasUrl === hasPool) throw new ConfigError('postgres: options: give exactly one of connectionString and pool');
  if (hasUrl && (typeof options.connectionString !== 'string' || options.connectionString === '')) {
    throw new ConfigError('postgres: options.connectionString: expected a non-empty string');
  }
  if (hasPool && typeof (options.pool as { query?: unknown }).query !== 'function') {
    throw new ConfigError('postgres: options.pool: expected a pg Pool');
  }
  if (options.onBackgroundError !== undefined && typeof options.onBackgroundError !== 'function') {
    throw new ConfigError('postgres: options.onBackgroundError: expected a function');
  }
}
