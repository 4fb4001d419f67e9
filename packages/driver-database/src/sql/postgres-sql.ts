import { claimedColumns, claimLeaseSet } from './claim-lease.js';
import { postgresGroupsSql } from './postgres-groups-sql.js';
import { postgresJobsSql, pruneFinished } from './postgres-jobs-sql.js';
import { postgresMigrations } from './postgres-migrations.js';

/**
 * Every SQL statement of the PostgreSQL dialect, built once per driver from a schema name that has
 * already passed validation and quoting (`s` is `"schema"`). Each statement documents its
 * parameters ($n) and the rows it returns. Times come from the server's `now()`; epoch-ms values
 * cross the wire as float8.
 */
export function postgresSql(s: string, options: { readonly durableSettle?: boolean } = {}) {
  const epochMs = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;
  // Settling statements (claim, ack, release, extend, dead-letter) may commit without waiting for
  // the WAL flush: a server crash can only undo a settle, which redelivers the job — the
  // at-least-once promise holds. Pushes always wait: an enqueued job must survive a crash.
  const settleCommit = `(SELECT set_config('synchronous_commit', '${options.durableSettle === true ? 'on' : 'off'}', true))`;
  // The acks of a batch statement: `req` (the requests), `del` (the rows deleted) and `stored` (the
  // records kept, in request order). The caller sends at most one record per job and at most the
  // count bound per queue (see keptRecords): a sort and a window here cost more than the inserts.
  const acked = (ids: string, tokens: string, records: string) => `req AS (
        SELECT r.job_id, r.token, r.record, r.ord
        FROM unnest(${ids}::text[], ${tokens}::text[], ${records}::text[]) WITH ORDINALITY AS r(job_id, token, record, ord), ${settleCommit} AS commit_mode
      ), del AS (
        DELETE FROM ${s}.jobs j USING req WHERE j.job_id = req.job_id AND j.token = req.token
        RETURNING j.job_id, j.token, j.queue
      ), stored AS (
        INSERT INTO ${s}.finished_jobs (job_id, queue, state, record)
        SELECT del.job_id, del.queue, 'completed', req.record FROM del JOIN req ON req.job_id = del.job_id AND req.token = del.token
        WHERE req.record IS NOT NULL ORDER BY req.ord
        RETURNING queue
      )`;
  // The claim of one queue; `extra` adds a condition on the queue.
  const claimStatement = (extra: string) => `WITH next AS (
        SELECT seq FROM ${s}.jobs
        WHERE queue = $1 AND available_at <= now() AND (reserved_until IS NULL OR reserved_until <= now())
          AND NOT EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) ${extra}
        ORDER BY priority, seq
        LIMIT $4
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${s}.jobs j
      SET ${claimLeaseSet('$2', '$3', '$5')}
      FROM next, ${settleCommit} AS commit_mode WHERE j.seq = next.seq
      RETURNING ${claimedColumns(epochMs)}`;
  return {
    ...postgresJobsSql(s, epochMs, settleCommit),
    ...postgresGroupsSql(s, epochMs),
    /** Schema steps, oldest first (see postgres-migrations.ts). */
    migrations: postgresMigrations(s),

    /** In: $1 lock key (text). Serialises migrators of one schema until the transaction ends. */
    migrationLock: 'SELECT pg_advisory_xact_lock(hashtext($1))',
    /** Creates the schema and the version table; no parameters. */
    migrationsTable: [
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    ],
    /** In: $1 the quoted table name. Out: { present } — whether the version table exists. */
    migrationsTableExists: 'SELECT to_regclass($1) IS NOT NULL AS present',
    /** Out: { version } — the newest applied step (0 when none). */
    currentVersion: `SELECT coalesce(max(version), 0)::int AS version FROM ${s}.schema_migrations`,
    /** In: $1 version, $2 name. Records an applied step. */
    recordMigration: `INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`,

    /**
     * Bulk insert of many envelopes in one statement, then one NOTIFY per queue that got a due job;
     * a grouped job's lanes (its group's and its queue's ungrouped lane) are added when new.
     * In: $1 job ids text[], $2 queues text[], $3 priorities int[], $4 delays ms float8[] (from now),
     * $5 unique keys text[] (nulls allowed), $6 bodies text (one per job, joined by a line break,
     * which no encoded envelope holds), $7 channel text, $8 groups text[] (nulls allowed).
     * Out: one row { stored int, ids text[] or null }: the ids stored, null when every job was;
     * rows held by a unique key or id, stored before or earlier in the same push, are skipped.
     */
    push: pushStatement(s, { where: '', onConflict: 'ON CONFLICT DO NOTHING' }),
    /**
     * `push` for envelopes that repeat no id and no unique key among themselves, without ON
     * CONFLICT: a row whose id or key a committed job holds is left out beforehand, so only a push
     * storing the same id or key at the same moment makes it fail, with unique_violation (23505),
     * and the caller then runs `push`. A speculative insertion (what ON CONFLICT does for every
     * row) costs about a fifth of the statement. In and out as `push`.
     */
    pushFresh: pushStatement(s, {
      where: `WHERE NOT EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.job_id = r.job_id)
          AND (r.unique_key IS NULL OR NOT EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.queue = r.queue AND j.unique_key = r.unique_key))`,
      onConflict: '',
    }),

    /**
     * Claims up to $4 due jobs of one queue: priority then insertion order, skipping rows other
     * claims hold, reclaiming expired leases. A row still carrying a lease was left by a delivery
     * that ran out unsettled (every settle that makes a job due again clears it), so the claim
     * counts that lost delivery in the same statement. Each row gets its own fencing token, `$3:<seq>`,
     * and the claimer's name. A paused queue gives nothing.
     * In: $1 queue, $2 lease ms, $3 token prefix (unique per statement), $4 how many, $5 holder or null.
     * Out: up to $4 rows { job_id, queue, body, attempts, lost_deliveries, lease_expires_at (epoch
     * ms), token, priority, seq } in no particular order.
     */
    claim: claimStatement(''),
    /**
     * `claim` for a queue without lanes (no grouped job was ever pushed to it): a claim with
     * groupConcurrency tries it first, and claims group by group (see PostgresGroupClaims) only when
     * it returns nothing and the queue has lanes. In and out as `claim`.
     */
    claimUnlessGrouped: claimStatement(`AND NOT EXISTS (SELECT 1 FROM ${s}.job_groups WHERE queue = $1)`),
    /**
     * Acknowledges one reservation (the common case at low concurrency), keeping its finished-job
     * record when one is given and pruning its queue's finished jobs (see pruneFinished).
     * In: $1 job id, $2 token, $3 record or null, $4 count, $5 age ms, $6 every.
     * Out: one row { deleted } — 1 when deleted; 0 means gone or held by another token.
     */
    ackOne: `WITH del AS (
        DELETE FROM ${s}.jobs USING ${settleCommit} AS commit_mode WHERE job_id = $1 AND token = $2 RETURNING queue
      ), stored AS (
        INSERT INTO ${s}.finished_jobs (job_id, queue, state, record)
        SELECT $1, queue, 'completed', $3 FROM del WHERE $3::text IS NOT NULL
        RETURNING queue
      ), ${pruneFinished(s, 'stored', { count: '$4', ageMs: '$5', every: '$6' })}
      SELECT (SELECT count(*) FROM del)::int AS deleted`,
    /** In: $1 job id. Out: zero or one row — whether the job is still there. */
    exists: `SELECT 1 AS present FROM ${s}.jobs WHERE job_id = $1`,

    /**
     * Acknowledges many reservations at once, keeping the finished-job records given (as ackOne).
     * In: $1 job ids text[], $2 tokens text[], $3 records text[] (null where none), $4 count,
     * $5 age ms, $6 every.
     * Out: rows { job_id, token } of requests whose job is still there under another token (lease
     * lost); requests whose job is gone are silently done.
     */
    ackBatch: `WITH ${acked('$1', '$2', '$3')}, ${pruneFinished(s, 'stored', { count: '$4', ageMs: '$5', every: '$6' })}
      SELECT req.job_id, req.token FROM req
      WHERE req.job_id NOT IN (SELECT del.job_id FROM del)
        AND EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.job_id = req.job_id)`,

    /**
     * Acknowledges many reservations (keeping their records, as ackBatch) and, in the same round
     * trip, claims up to $10 next jobs of queue $7 as `claim` does (the Worker's settle-and-claim).
     * In: $1 job ids text[], $2 tokens text[], $3 records text[], $4 count, $5 age ms, $6 every,
     * $7 queue, $8 lease ms, $9 token prefix, $10 how many, $11 holder or null.
     * Out: rows { claimed: false, job_id, token } for acks whose lease was lost, and rows
     * { claimed: true, job_id, token, queue, body, attempts, lost_deliveries, lease_expires_at,
     * priority, seq } in no particular order.
     */
    ackClaim: `WITH ${acked('$1', '$2', '$3')}, ${pruneFinished(s, 'stored', { count: '$4', ageMs: '$5', every: '$6' })}, next AS (
        SELECT seq FROM ${s}.jobs
        WHERE queue = $7 AND available_at <= now() AND (reserved_until IS NULL OR reserved_until <= now())
          -- An acked job whose lease ran out meanwhile must not be claimed by the statement deleting it.
          AND job_id <> ALL($1::text[])
          AND NOT EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $7)
        ORDER BY priority, seq
        LIMIT $10
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE ${s}.jobs j
        SET ${claimLeaseSet('$8', '$9', '$11')}
        FROM next WHERE j.seq = next.seq
        RETURNING j.job_id, j.token, j.queue, j.body, j.attempts, j.lost_deliveries, ${epochMs('j.reserved_until')} AS lease_expires_at,
          j.priority, j.seq::float8 AS seq
      )
      SELECT false AS claimed, req.job_id, req.token, NULL::text AS queue, NULL::text AS body, NULL::int AS attempts,
        NULL::int AS lost_deliveries, NULL::float8 AS lease_expires_at, NULL::int AS priority, NULL::float8 AS seq
      FROM req
      WHERE req.job_id NOT IN (SELECT del.job_id FROM del)
        AND EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.job_id = req.job_id)
      UNION ALL
      SELECT true, job_id, token, queue, body, attempts, lost_deliveries, lease_expires_at, priority, seq FROM claimed`,

    /**
     * Gives back deliveries that were not run: due at once with neither count changed, keeping
     * their seq (so first in their priority band). A request whose token no longer holds the job is
     * skipped. In: $1 job ids text[], $2 tokens text[], $3 channel. Out: { returned }.
     */
    giveBack: `WITH upd AS (
        UPDATE ${s}.jobs j SET reserved_until = NULL, token = NULL
        FROM unnest($1::text[], $2::text[]) AS r(job_id, token), ${settleCommit} AS commit_mode
        WHERE j.job_id = r.job_id AND j.token = r.token
        RETURNING j.queue
      ), notified AS (
        SELECT pg_notify($3, q.queue) FROM (SELECT DISTINCT queue FROM upd) q
      )
      SELECT (SELECT count(*) FROM upd)::int AS returned, (SELECT count(*) FROM notified)::int AS notified`,

    /**
     * Settles a failed run: due again after the delay, its attempt counted.
     * In: $1 job id, $2 token, $3 delay ms, $4 new body or null, $5 new priority or null, $6 channel.
     * Out: one row { changed, notified, present } — present tells a lost lease from a gone job.
     */
    release: `WITH upd AS (
        UPDATE ${s}.jobs SET available_at = now() + $3 * interval '1 millisecond', reserved_until = NULL, token = NULL,
          body = coalesce($4, body), priority = coalesce($5, priority), attempts = attempts + 1
        FROM ${settleCommit} AS commit_mode
        WHERE job_id = $1 AND token = $2
        RETURNING queue, available_at
      ), notified AS (
        SELECT pg_notify($6, queue) FROM upd WHERE available_at <= now()
      )
      SELECT (SELECT count(*) FROM upd)::int AS changed, (SELECT count(*) FROM notified)::int AS notified,
        EXISTS (SELECT 1 FROM ${s}.jobs WHERE job_id = $1) AS present`,

    /** In: $1 job id, $2 token, $3 lease ms. Out: { lease_expires_at } when extended, else no row. */
    extend: `UPDATE ${s}.jobs SET reserved_until = now() + $3 * interval '1 millisecond'
      FROM ${settleCommit} AS commit_mode
      WHERE job_id = $1 AND token = $2
      RETURNING ${epochMs('reserved_until')} AS lease_expires_at`,

    /**
     * Renews many leases at once. In: $1 job ids text[], $2 tokens text[], $3 lease ms.
     * Out: rows { ord (1-based index into the arrays), lease_expires_at } of the leases still held.
     */
    extendMany: `UPDATE ${s}.jobs j SET reserved_until = now() + $3 * interval '1 millisecond'
      FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(job_id, token, ord), ${settleCommit} AS commit_mode
      WHERE j.job_id = r.job_id AND j.token = r.token
      RETURNING r.ord::int AS ord, ${epochMs('j.reserved_until')} AS lease_expires_at`,

    /**
     * Moves a reserved job into failed_jobs (replacing an older entry of the same id).
     * In: $1 job id, $2 token, $3 name or null, $4 poison, $5 reason, $6 error json, $7 attempts,
     * $8 first failed at (epoch ms), $9 failed at (epoch ms).
     * Out: one row { changed, present }.
     */
    deadLetter: `WITH del AS (
        DELETE FROM ${s}.jobs USING ${settleCommit} AS commit_mode WHERE job_id = $1 AND token = $2
        RETURNING job_id, queue, priority, unique_key, body, group_key
      ), ins AS (
        INSERT INTO ${s}.failed_jobs (job_id, queue, name, priority, unique_key, body, poison, reason, error, attempts, first_failed_at, failed_at, group_key)
        SELECT job_id, queue, $3, priority, unique_key, body, $4, $5, $6::jsonb, $7, $8, $9, group_key FROM del
        ON CONFLICT (job_id) DO UPDATE SET queue = excluded.queue, name = excluded.name, priority = excluded.priority,
          unique_key = excluded.unique_key, body = excluded.body, poison = excluded.poison, reason = excluded.reason,
          error = excluded.error, attempts = excluded.attempts, first_failed_at = excluded.first_failed_at, failed_at = excluded.failed_at,
          group_key = excluded.group_key
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM ins)::int AS changed, EXISTS (SELECT 1 FROM ${s}.jobs WHERE job_id = $1) AS present`,

    /** In: $1 queue. Out: one row of counts, oldest_ready_at (epoch ms or null), completed (kept) and paused. */
    stats: `SELECT
        count(*) FILTER (WHERE reserved_until IS NULL AND available_at <= now())::int AS ready,
        count(*) FILTER (WHERE reserved_until IS NULL AND available_at > now())::int AS delayed,
        count(*) FILTER (WHERE reserved_until IS NOT NULL)::int AS reserved,
        ${epochMs('min(available_at) FILTER (WHERE reserved_until IS NULL AND available_at <= now())')} AS oldest_ready_at,
        (SELECT count(*) FROM ${s}.failed_jobs WHERE queue = $1)::int AS dead,
        (SELECT count(*) FROM ${s}.finished_jobs WHERE queue = $1 AND state = 'completed')::int AS completed,
        EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) AS paused
      FROM ${s}.jobs WHERE queue = $1`,

    /** In: $1 queue. Deletes ready and delayed jobs (not leased ones). Out: rowCount. */
    purge: `DELETE FROM ${s}.jobs WHERE queue = $1 AND reserved_until IS NULL`,

    /** In: filter $1 $2, $3 limit, $4 offset. Out: entries newest first. */
    dlqList: `SELECT job_id, queue, name, body, poison, reason, error, attempts, first_failed_at, failed_at FROM ${s}.failed_jobs
      WHERE ($1::text IS NULL OR queue = $1) AND ($2::bigint IS NULL OR failed_at < $2)
      ORDER BY failed_at DESC, seq DESC LIMIT $3 OFFSET $4`,
    /** In: $1 job id. Out: zero or one entry. */
    dlqGet: `SELECT job_id, queue, name, body, poison, reason, error, attempts, first_failed_at, failed_at FROM ${s}.failed_jobs WHERE job_id = $1`,
    /** In: filter $1 $2. Out: { count }. */
    dlqCount: `SELECT count(*)::int AS count FROM ${s}.failed_jobs WHERE ($1::text IS NULL OR queue = $1) AND ($2::bigint IS NULL OR failed_at < $2)`,
    /** In: filter $1 $2. Out: rowCount deleted. */
    dlqPurge: `DELETE FROM ${s}.failed_jobs WHERE ($1::text IS NULL OR queue = $1) AND ($2::bigint IS NULL OR failed_at < $2)`,
    /** In: $1 job ids (text[]). Out: rowCount deleted. */
    dlqPurgeIds: `DELETE FROM ${s}.failed_jobs WHERE job_id = ANY($1::text[])`,
    /**
     * Moves matching non-poison entries back to their queues as fresh deliveries, in failure order;
     * an entry whose id or unique key is held by a live job stays where it is. Both counts of the
     * new row start at 0 (their column defaults).
     * In: filter $1 $2, $3 job id or null (one entry), $4 channel. Out: { moved, blocked }.
     */
    dlqRetry: `WITH pick AS (
        SELECT seq, job_id, queue, priority, unique_key, body, group_key FROM ${s}.failed_jobs
        WHERE NOT poison AND ($1::text IS NULL OR queue = $1) AND ($2::bigint IS NULL OR failed_at < $2) AND ($3::text IS NULL OR job_id = $3)
      ), ins AS (
        INSERT INTO ${s}.jobs (job_id, queue, priority, available_at, unique_key, body, group_key)
        SELECT job_id, queue, priority, now(), unique_key, body, group_key FROM pick ORDER BY seq
        ON CONFLICT DO NOTHING
        RETURNING job_id, queue, group_key
      ), ${registerLanes(s, 'ins')}, del AS (
        DELETE FROM ${s}.failed_jobs f USING ins WHERE f.job_id = ins.job_id RETURNING 1
      ), notified AS (
        SELECT pg_notify($4, q.queue) FROM (SELECT DISTINCT queue FROM ins) q
      )
      SELECT (SELECT count(*) FROM del)::int AS moved, (SELECT count(*) FROM pick)::int AS picked,
        (SELECT count(*) FROM notified)::int AS notified, (SELECT count(*) FROM lanes)::int AS lanes`,

    /**
     * Token bucket take, atomic under the row lock of the upsert.
     * In: $1 key, $2 limit, $3 interval ms, $4 cost. Out: { tokens, granted }.
     */
    rateLimitTake: `INSERT INTO ${s}.rate_limits AS b (key, tokens, granted, updated_at)
      VALUES ($1, CASE WHEN $2::float8 >= $4::float8 THEN $2::float8 - $4::float8 ELSE $2::float8 END, $2::float8 >= $4::float8, now())
      ON CONFLICT (key) DO UPDATE SET
        tokens = CASE
          WHEN least($2::float8, b.tokens + greatest(0, extract(epoch from now() - b.updated_at) * 1000) * $2::float8 / $3::float8) >= $4::float8
          THEN least($2::float8, b.tokens + greatest(0, extract(epoch from now() - b.updated_at) * 1000) * $2::float8 / $3::float8) - $4::float8
          ELSE least($2::float8, b.tokens + greatest(0, extract(epoch from now() - b.updated_at) * 1000) * $2::float8 / $3::float8)
        END,
        granted = least($2::float8, b.tokens + greatest(0, extract(epoch from now() - b.updated_at) * 1000) * $2::float8 / $3::float8) >= $4::float8,
        updated_at = now()
      RETURNING tokens, granted`,
    /**
     * Refreshes the planner's statistics of the jobs table, so the claim stays an index scan after
     * the table grew faster than autovacuum looks (see PostgresDriver's push), and of the lanes,
     * which grow with the jobs' groups, so that locking them stays a walk of the turn index that
     * stops at the lanes wanted, not a sort of every lane of the queue. Of the jobs, the row count
     * and the columns claims filter and order on: lookups by job id go through its unique index and
     * need none, and the bodies, the widest column by far, made the analysis about three times as
     * costly. No parameters; jobRows then reads the row count.
     */
    analyzeJobs: `ANALYZE ${s}.jobs (queue, priority, seq, available_at, reserved_until, group_key), ${s}.job_groups`,
    /** In: $1 the schema name. Out: one row { rows }, the row count the last analysis estimated. */
    jobRows: `SELECT c.reltuples::float8 AS rows FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = 'jobs'`,

    /** In: $1 key, $2 limit, $3 interval ms. Out: zero or one row { tokens } (refilled, not stored). */
    rateLimitPeek: `SELECT least($2::float8, tokens + greatest(0, extract(epoch from now() - updated_at) * 1000) * $2::float8 / $3::float8) AS tokens
      FROM ${s}.rate_limits WHERE key = $1`,
  };
}

/**
 * The push statement (see `push`), with `where` (conditions on each row `r`, or '') and its ON
 * CONFLICT clause (or '').
 */
function pushStatement(s: string, { where, onConflict }: { readonly where: string; readonly onConflict: string }): string {
  return `WITH ins AS (
        INSERT INTO ${s}.jobs (job_id, queue, priority, available_at, unique_key, body, group_key)
        SELECT r.job_id, r.queue, r.priority, now() + r.delay_ms * interval '1 millisecond', r.unique_key, r.body, r.group_key
        FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[], $5::text[], string_to_array($6::text, E'\\n'), $8::text[])
          WITH ORDINALITY AS r(job_id, queue, priority, delay_ms, unique_key, body, group_key, ord)
        ${where}
        ORDER BY r.ord
        ${onConflict}
        RETURNING job_id, queue, available_at, group_key
      ), ${registerLanes(s, 'ins')}, notified AS (
        SELECT pg_notify($7, q.queue) FROM (SELECT DISTINCT queue FROM ins WHERE available_at <= now()) q
      )
      SELECT count(*)::int AS stored,
        -- The stored ids are only needed to tell which were skipped (the subquery runs only then).
        CASE WHEN count(*) < cardinality($1::text[]) THEN coalesce((SELECT array_agg(job_id) FROM ins), '{}') END AS ids,
        (SELECT count(*) FROM notified)::int AS notified, (SELECT count(*) FROM lanes)::int AS lanes FROM ins`;
}

/**
 * The CTE `lanes` of a statement that stores jobs (`stored`: rows with queue and group_key): adds
 * the lanes a grouped job needs (its group's, and its queue's ungrouped lane '') when new. For
 * ungrouped jobs it adds nothing and reads only the rows just stored.
 */
function registerLanes(s: string, stored: string): string {
  return `lanes AS (
        INSERT INTO ${s}.job_groups (queue, group_key)
        SELECT DISTINCT l.queue, l.group_key FROM ${stored},
          LATERAL (VALUES (${stored}.queue, ${stored}.group_key), (${stored}.queue, '')) AS l(queue, group_key)
        WHERE ${stored}.group_key IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING 1
      )`;
}

/** The statements of one PostgreSQL schema. */
export type PostgresSql = ReturnType<typeof postgresSql>;
