import type { RetentionOptions } from '@queuekit/core';
import type Database from 'better-sqlite3';

/** Options of {@link createSqliteDriver}. Everything has a default: `createSqliteDriver()` works. */
export interface SqliteDriverOptions {
  /** Database file (created when missing; `:memory:` for a private in-memory queue); default `queuekit.sqlite`. */
  readonly filename?: string;
  /** An open better-sqlite3 database to share; the driver never closes it. Excludes `filename`. */
  readonly database?: Database.Database;
  /** Prefix of the driver's tables: 0–30 characters of a-z, 0-9 and `_`; default `queuekit_`. */
  readonly tablePrefix?: string;
  /** How long a write waits for another process's lock before failing, in ms; default 5000. */
  readonly busyTimeoutMs?: number;
  /**
   * `auto` (default): the first call migrates the file to the newest version (idempotent, inside
   * BEGIN IMMEDIATE). `manual`: the first call only checks the version and fails with a clear error
   * until `migrate()` (or `queue migrate`) has run.
   */
  readonly migrate?: 'auto' | 'manual';
  /**
   * How often a waiting reserve looks for work pushed by other processes, in ms; default 50.
   * Pushes through the same driver wake a waiting reserve at once.
   */
  readonly pollIntervalMs?: number;
  /** Largest encoded envelope `push()` accepts, in bytes; default 16 MiB. */
  readonly maxMessageBytes?: number;
  /**
   * Completed jobs kept per queue in `finished_jobs` (with their results, for lookups), pruned by
   * count and age as new ones are stored; default the last 1,000 for at most 24 h. `false` keeps no
   * completed jobs (cancelled ones are still kept, within the default bounds).
   */
  readonly retention?: RetentionOptions;
}
