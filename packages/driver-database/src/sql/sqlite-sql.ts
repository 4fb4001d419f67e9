import type { Migration } from '../migration.js';
import { sqliteGroupsSql } from './sqlite-groups-sql.js';
import { sqliteJobsSql } from './sqlite-jobs-sql.js';

/**
 * Every SQL statement of the SQLite dialect, built once per driver from a table prefix that has
 * already passed validation (`t(name)` quotes `<prefix><name>`). Named parameters (@name) are
 * listed per statement with the rows returned. Times are epoch ms from the calling process.
 */
export function sqliteSql(prefix: string) {
  const t = (name: string) => `"${prefix}${name}"`;
  return {
    ...sqliteJobsSql(t),
    ...sqliteGroupsSql(t),
    /** Schema steps, oldest first. Never edit a released step: add a new one. */
    migrations: [
      {
        version: 1,
        name: 'jobs',
        statements: [
          `CREATE TABLE ${t('jobs')} (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL UNIQUE,
            queue TEXT NOT NULL,
            priority INTEGER NOT NULL,
            available_at INTEGER NOT NULL,
            reserved_until INTEGER,
            token TEXT,
            deliveries INTEGER NOT NULL DEFAULT 0,
            unique_key TEXT,
            created_at INTEGER NOT NULL,
            body TEXT NOT NULL
          )`,
          // Claim order inside one queue: the claim reads this index and stops at the first due row.
          `CREATE INDEX ${t('jobs_claim_idx')} ON ${t('jobs')} (queue, priority, seq)`,
          // Live jobs only live in this table, so uniqueness here means "held while queued, delayed or reserved".
          `CREATE UNIQUE INDEX ${t('jobs_unique_key_idx')} ON ${t('jobs')} (unique_key) WHERE unique_key IS NOT NULL`,
        ],
      },
      {
        version: 2,
        name: 'failed-jobs',
        statements: [
          `CREATE TABLE ${t('failed_jobs')} (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL UNIQUE,
            queue TEXT NOT NULL,
            name TEXT,
            priority INTEGER NOT NULL,
            unique_key TEXT,
            body TEXT NOT NULL,
            poison INTEGER NOT NULL,
            reason TEXT NOT NULL,
            error TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            first_failed_at INTEGER NOT NULL,
            failed_at INTEGER NOT NULL
          )`,
          `CREATE INDEX ${t('failed_jobs_failed_at_idx')} ON ${t('failed_jobs')} (failed_at DESC, seq DESC)`,
          `CREATE INDEX ${t('failed_jobs_queue_idx')} ON ${t('failed_jobs')} (queue, failed_at DESC, seq DESC)`,
        ],
      },
      {
        version: 3,
        name: 'rate-limits',
        statements: [
          `CREATE TABLE ${t('rate_limits')} (
            key TEXT PRIMARY KEY,
            tokens REAL NOT NULL,
            granted INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
          )`,
        ],
      },
      {
        version: 4,
        name: 'unique-keys-per-queue',
        // A unique key is held within its queue, the scope every driver can honour.
        statements: [
          `DROP INDEX ${t('jobs_unique_key_idx')}`,
          `CREATE UNIQUE INDEX ${t('jobs_unique_key_idx')} ON ${t('jobs')} (queue, unique_key) WHERE unique_key IS NOT NULL`,
        ],
      },
      {
        version: 5,
        name: 'attempts-and-lost-deliveries',
        // One count of every claim becomes two: failed runs (release) and claims lost with their
        // worker (an expired lease taken over). What `deliveries` counted cannot be told apart, so
        // its claims are carried over as failed runs — the reading that keeps each job's retry
        // budget where it was — minus the claim that holds a lease now, which has not ended.
        statements: [
          `ALTER TABLE ${t('jobs')} ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0`,
          `ALTER TABLE ${t('jobs')} ADD COLUMN lost_deliveries INTEGER NOT NULL DEFAULT 0`,
          `UPDATE ${t('jobs')} SET attempts = max(0, deliveries - (reserved_until IS NOT NULL))`,
          `ALTER TABLE ${t('jobs')} DROP COLUMN deliveries`,
        ],
      },
      {
        version: 6,
        name: 'finished-jobs-and-pauses',
        // Lookups and steering (#15): who holds a lease and since when, a running job's progress,
        // finished jobs (one record each, made by core and stored as it is; `finished_at` is when
        // it was stored, what the age bound and the newest-first listing go by), paused queues.
        statements: [
          `ALTER TABLE ${t('jobs')} ADD COLUMN holder TEXT`,
          `ALTER TABLE ${t('jobs')} ADD COLUMN claimed_at INTEGER`,
          `ALTER TABLE ${t('jobs')} ADD COLUMN progress TEXT`,
          `CREATE TABLE ${t('finished_jobs')} (
            seq INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL UNIQUE,
            queue TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('completed', 'cancelled')),
            finished_at INTEGER NOT NULL,
            record TEXT NOT NULL
          )`,
          `CREATE INDEX ${t('finished_jobs_queue_idx')} ON ${t('finished_jobs')} (queue, finished_at, seq)`,
          `CREATE TABLE ${t('paused_queues')} (
            queue TEXT PRIMARY KEY,
            paused_at INTEGER NOT NULL
          )`,
        ],
      },
      {
        version: 7,
        name: 'job-groups',
        // Job groups (#17). A job's group is a column (null: none), kept by its dead letter for a
        // retry. Grouped claims walk one lane (a group, or the ungrouped jobs: null) through its
        // own index in claim order; the lanes of a queue (its groups, and '' for its ungrouped jobs) and their turns are rows
        // of job_groups, added by the push of a grouped job, so a queue without one has none and
        // its claims stay the plain statement. group_leases holds the leases grouped claims took.
        statements: [
          `ALTER TABLE ${t('jobs')} ADD COLUMN group_key TEXT`,
          `ALTER TABLE ${t('failed_jobs')} ADD COLUMN group_key TEXT`,
          `CREATE INDEX ${t('jobs_group_idx')} ON ${t('jobs')} (queue, group_key, priority, seq)`,
          `CREATE TABLE ${t('job_groups')} (
            queue TEXT NOT NULL,
            group_key TEXT NOT NULL,
            served INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (queue, group_key)
          ) WITHOUT ROWID`,
          `CREATE INDEX ${t('job_groups_turn_idx')} ON ${t('job_groups')} (queue, served, group_key)`,
          `CREATE TABLE ${t('group_leases')} (
            seq INTEGER PRIMARY KEY,
            queue TEXT NOT NULL,
            group_key TEXT NOT NULL,
            token TEXT NOT NULL
          )`,
          `CREATE INDEX ${t('group_leases_group_idx')} ON ${t('group_leases')} (queue, group_key)`,
        ],
      },
    ] satisfies Migration[],

    /** Creates the version table; no parameters. */
    migrationsTable: `CREATE TABLE IF NOT EXISTS ${t('schema_migrations')} (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`,
    /** In: @name (the version table's name). Out: { present } — 1 when it exists. */
    migrationsTableExists: `SELECT count(*) AS present FROM sqlite_master WHERE type = 'table' AND name = @name`,
    /** Out: { version } — newest applied step (0 when none). */
    currentVersion: `SELECT coalesce(max(version), 0) AS version FROM ${t('schema_migrations')}`,
    /** In: @version, @name, @now. */
    recordMigration: `INSERT INTO ${t('schema_migrations')} (version, name, applied_at) VALUES (@version, @name, @now)`,

    /**
     * One envelope (run once per envelope inside one transaction).
     * In: @job_id, @queue, @priority, @available_at, @unique_key, @created_at, @body, @group_key (or null).
     * Out: changes = 1 when stored, 0 when its id or unique key is held.
     */
    push: `INSERT INTO ${t('jobs')} (job_id, queue, priority, available_at, unique_key, created_at, body, group_key)
      VALUES (@job_id, @queue, @priority, @available_at, @unique_key, @created_at, @body, @group_key)
      ON CONFLICT DO NOTHING`,

    /**
     * Claims up to @max due jobs of one queue (priority, then insertion order) in one statement,
     * reclaiming expired leases: a claimed row whose lease had run out (reserved_until set — every
     * path that makes a job available clears it) counts one lost delivery. Each row gets its own
     * fencing token and the claimer's name. A paused queue gives nothing. Run inside BEGIN
     * IMMEDIATE. RETURNING order is unspecified: sort by (priority, seq).
     * In: @queue, @now, @lease_until, @max, @holder (or null).
     * Out: up to @max rows { job_id, queue, body, attempts, lost_deliveries, lease_expires_at, token, priority, seq }.
     */
    claim: `UPDATE ${t('jobs')} SET reserved_until = @lease_until, token = lower(hex(randomblob(16))),
        lost_deliveries = lost_deliveries + (reserved_until IS NOT NULL), holder = @holder, claimed_at = @now
      WHERE seq IN (
        SELECT seq FROM ${t('jobs')} INDEXED BY ${t('jobs_claim_idx')}
        WHERE queue = @queue AND available_at <= @now AND (reserved_until IS NULL OR reserved_until <= @now)
          AND NOT EXISTS (SELECT 1 FROM ${t('paused_queues')} WHERE queue = @queue)
        ORDER BY priority, seq LIMIT @max
      )
      RETURNING job_id, queue, body, attempts, lost_deliveries, reserved_until AS lease_expires_at, token, priority, seq`,

    /** In: @job_id, @token. Out: one row { queue } when deleted, none otherwise. */
    ack: `DELETE FROM ${t('jobs')} WHERE job_id = @job_id AND token = @token RETURNING queue`,
    /**
     * Hands back a job claimed and not run: available at once in its old place (its seq), neither
     * count changed. In: @job_id, @token. Out: changes = 1 when given back, 0 when the lease was lost.
     */
    giveBack: `UPDATE ${t('jobs')} SET reserved_until = NULL, token = NULL WHERE job_id = @job_id AND token = @token`,
    /** In: @job_id. Out: zero or one row — whether the job is still there. */
    exists: `SELECT 1 AS present FROM ${t('jobs')} WHERE job_id = @job_id`,

    /**
     * Settles a failed run: counted, available at @available_at, with the envelope given.
     * In: @job_id, @token, @available_at, @body (or null), @priority (or null). Out: changes.
     */
    release: `UPDATE ${t('jobs')} SET available_at = @available_at, reserved_until = NULL, token = NULL, attempts = attempts + 1,
        body = coalesce(@body, body), priority = coalesce(@priority, priority)
      WHERE job_id = @job_id AND token = @token`,

    /** In: @job_id, @token, @lease_until. Out: changes = 1 when extended. */
    extend: `UPDATE ${t('jobs')} SET reserved_until = @lease_until WHERE job_id = @job_id AND token = @token`,

    /**
     * Copies a reserved job into failed_jobs (replacing an older entry of the same id); the caller
     * then deletes it with `ack`, both inside one transaction.
     * In: @job_id, @token, @name, @poison, @reason, @error, @attempts, @first_failed_at, @failed_at.
     * Out: changes = 1 when copied.
     */
    deadLetter: `INSERT INTO ${t('failed_jobs')} (job_id, queue, name, priority, unique_key, body, poison, reason, error, attempts, first_failed_at, failed_at, group_key)
      SELECT job_id, queue, @name, priority, unique_key, body, @poison, @reason, @error, @attempts, @first_failed_at, @failed_at, group_key
      FROM ${t('jobs')} WHERE job_id = @job_id AND token = @token
      ON CONFLICT (job_id) DO UPDATE SET queue = excluded.queue, name = excluded.name, priority = excluded.priority,
        unique_key = excluded.unique_key, body = excluded.body, poison = excluded.poison, reason = excluded.reason,
        error = excluded.error, attempts = excluded.attempts, first_failed_at = excluded.first_failed_at, failed_at = excluded.failed_at,
        group_key = excluded.group_key`,

    /** In: @queue, @now. Out: one row of counts, oldest_ready_at (or null), completed (kept) and paused (0/1). */
    stats: `SELECT
        coalesce(sum(reserved_until IS NULL AND available_at <= @now), 0) AS ready,
        coalesce(sum(reserved_until IS NULL AND available_at > @now), 0) AS delayed,
        coalesce(sum(reserved_until IS NOT NULL), 0) AS reserved,
        min(CASE WHEN reserved_until IS NULL AND available_at <= @now THEN available_at END) AS oldest_ready_at,
        (SELECT count(*) FROM ${t('failed_jobs')} WHERE queue = @queue) AS dead,
        (SELECT count(*) FROM ${t('finished_jobs')} WHERE queue = @queue AND state = 'completed') AS completed,
        EXISTS (SELECT 1 FROM ${t('paused_queues')} WHERE queue = @queue) AS paused
      FROM ${t('jobs')} WHERE queue = @queue`,

    /** No parameters; the round trip of ping(). */
    ping: 'SELECT 1',

    /** In: @queue. Deletes ready and delayed jobs (not leased ones). Out: changes. */
    purge: `DELETE FROM ${t('jobs')} WHERE queue = @queue AND reserved_until IS NULL`,

    /** In: @queue (or null), @failed_before (or null), @limit, @offset. Out: entries newest first. */
    dlqList: `SELECT job_id, queue, name, body, poison, reason, error, attempts, first_failed_at, failed_at FROM ${t('failed_jobs')}
      WHERE (@queue IS NULL OR queue = @queue) AND (@failed_before IS NULL OR failed_at < @failed_before)
      ORDER BY failed_at DESC, seq DESC LIMIT @limit OFFSET @offset`,
    /** In: @job_id. Out: zero or one entry. */
    dlqGet: `SELECT job_id, queue, name, body, poison, reason, error, attempts, first_failed_at, failed_at FROM ${t('failed_jobs')} WHERE job_id = @job_id`,
    /** In: @queue, @failed_before. Out: { count }. */
    dlqCount: `SELECT count(*) AS count FROM ${t('failed_jobs')} WHERE (@queue IS NULL OR queue = @queue) AND (@failed_before IS NULL OR failed_at < @failed_before)`,
    /** In: @queue, @failed_before. Out: changes. */
    dlqPurge: `DELETE FROM ${t('failed_jobs')} WHERE (@queue IS NULL OR queue = @queue) AND (@failed_before IS NULL OR failed_at < @failed_before)`,
    /**
     * In: @queue, @failed_before, @job_id (or null). Out: rows { job_id, queue, priority, unique_key, body, group_key } of
     * retryable entries, in failure order; `push` stores each as a fresh job (both counts 0, no lease).
     */
    dlqPick: `SELECT job_id, queue, priority, unique_key, body, group_key FROM ${t('failed_jobs')}
      WHERE poison = 0 AND (@queue IS NULL OR queue = @queue) AND (@failed_before IS NULL OR failed_at < @failed_before) AND (@job_id IS NULL OR job_id = @job_id)
      ORDER BY seq`,
    /** In: @job_id. Out: changes. */
    dlqDelete: `DELETE FROM ${t('failed_jobs')} WHERE job_id = @job_id`,

    /**
     * Token bucket take under the write lock of the upsert.
     * In: @key, @limit, @interval_ms, @cost, @now. Out: { tokens, granted }.
     */
    rateLimitTake: `INSERT INTO ${t('rate_limits')} AS b (key, tokens, granted, updated_at)
      VALUES (@key, CASE WHEN @limit >= @cost THEN @limit - @cost ELSE @limit END, @limit >= @cost, @now)
      ON CONFLICT (key) DO UPDATE SET
        tokens = CASE
          WHEN min(@limit, b.tokens + max(0, @now - b.updated_at) * 1.0 * @limit / @interval_ms) >= @cost
          THEN min(@limit, b.tokens + max(0, @now - b.updated_at) * 1.0 * @limit / @interval_ms) - @cost
          ELSE min(@limit, b.tokens + max(0, @now - b.updated_at) * 1.0 * @limit / @interval_ms)
        END,
        granted = min(@limit, b.tokens + max(0, @now - b.updated_at) * 1.0 * @limit / @interval_ms) >= @cost,
        updated_at = max(b.updated_at, @now)
      RETURNING tokens, granted`,
    /** In: @key, @limit, @interval_ms, @now. Out: zero or one row { tokens }. */
    rateLimitPeek: `SELECT min(@limit, tokens + max(0, @now - updated_at) * 1.0 * @limit / @interval_ms) AS tokens FROM ${t('rate_limits')} WHERE key = @key`,
  };
}

/** The statements of one SQLite table prefix. */
export type SqliteSql = ReturnType<typeof sqliteSql>;
