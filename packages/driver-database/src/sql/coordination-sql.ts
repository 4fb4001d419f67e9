/**
 * The coordination store's tables and statements, and the postpone statement, per dialect. The
 * coordination and schedule-ledger tables are created on first use (`CREATE TABLE IF NOT
 * EXISTS`), outside the versioned job schema: they hold short-lived counters and leases, and one
 * row per schedule (its last fired tick), nothing a migration must carry over.
 */

/** PostgreSQL statements; `s` is the quoted schema name. Times from the server's `now()`. */
export function postgresCoordinationSql(s: string) {
  const remaining = `greatest(0, extract(epoch from (expires_at - now())) * 1000)::float8`;
  const nowMs = `floor(extract(epoch from now()) * 1000)::bigint`;
  return {
    /** One row per key: a counter (owner NULL) or a lease (owner set); expired rows count as absent. */
    create: `CREATE TABLE IF NOT EXISTS ${s}.coordination (
        key text PRIMARY KEY,
        owner text,
        count bigint NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
    /** One row per schedule: its latest fired tick and latest manual run (epoch ms; recorded times from now()). */
    createLedger: `CREATE TABLE IF NOT EXISTS ${s}.schedule_ledger (
        schedule text PRIMARY KEY,
        tick_at bigint,
        tick_job_id text,
        tick_recorded_at bigint,
        run_job_id text,
        run_at bigint
      )`,
    /** Out: { now } the server's clock in epoch ms. */
    now: `SELECT ${nowMs} AS now`,
    /** In: $1 schedule, $2 tick ms, $3 job id. Out: one row when recorded (later than the recorded tick), none otherwise. */
    recordTick: `INSERT INTO ${s}.schedule_ledger AS l (schedule, tick_at, tick_job_id, tick_recorded_at)
        VALUES ($1, $2, $3, ${nowMs})
      ON CONFLICT (schedule) DO UPDATE SET tick_at = $2, tick_job_id = $3, tick_recorded_at = ${nowMs}
        WHERE l.tick_at IS NULL OR l.tick_at < $2
      RETURNING 1 AS recorded`,
    /** In: $1 schedule, $2 job id. Records a manual run. */
    recordRun: `INSERT INTO ${s}.schedule_ledger AS l (schedule, run_job_id, run_at) VALUES ($1, $2, ${nowMs})
      ON CONFLICT (schedule) DO UPDATE SET run_job_id = $2, run_at = ${nowMs}`,
    /** In: $1 schedule. Out: the row (numbers as float8) or none. */
    ledgerEntry: `SELECT tick_at::float8 AS tick_at, tick_job_id, tick_recorded_at::float8 AS tick_recorded_at,
        run_job_id, run_at::float8 AS run_at
      FROM ${s}.schedule_ledger WHERE schedule = $1`,
    /** In: $1 key, $2 window ms. Out: { count } after the increment; an expired row starts again at 1. */
    increment: `INSERT INTO ${s}.coordination AS c (key, owner, count, expires_at)
        VALUES ($1, NULL, 1, now() + $2 * interval '1 millisecond')
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN c.expires_at <= now() THEN 1 ELSE c.count + 1 END,
        owner = CASE WHEN c.expires_at <= now() THEN NULL ELSE c.owner END,
        expires_at = CASE WHEN c.expires_at <= now() THEN now() + $2 * interval '1 millisecond' ELSE c.expires_at END
      RETURNING count::float8 AS count`,
    /** In: $1 key, $2 owner, $3 ttl ms. Out: one row when $2 holds the lease now, none otherwise. */
    acquire: `INSERT INTO ${s}.coordination AS c (key, owner, count, expires_at)
        VALUES ($1, $2, 0, now() + $3 * interval '1 millisecond')
      ON CONFLICT (key) DO UPDATE SET owner = $2, count = 0, expires_at = now() + $3 * interval '1 millisecond'
        WHERE c.expires_at <= now() OR c.owner = $2
      RETURNING 1 AS held`,
    /** In: $1 key, $2 owner. Out: rowCount 1 when the live lease of $2 was freed. */
    release: `DELETE FROM ${s}.coordination WHERE key = $1 AND owner = $2 AND expires_at > now()`,
    /** In: $1 key. Out: { remaining_ms } (0 when expired) or no row. */
    remaining: `SELECT ${remaining} AS remaining_ms FROM ${s}.coordination WHERE key = $1`,
    /** In: $1 key. Out: { live } of the deleted row, or no row. */
    delete: `DELETE FROM ${s}.coordination WHERE key = $1 RETURNING expires_at > now() AS live`,
    /**
     * Hands a delivery back unrun, due after the delay, neither count changed.
     * In: $1 job id, $2 token, $3 delay ms, $4 channel. Out: one row { changed, present }.
     */
    postpone: `WITH upd AS (
        UPDATE ${s}.jobs SET available_at = now() + $3 * interval '1 millisecond', reserved_until = NULL, token = NULL
        WHERE job_id = $1 AND token = $2
        RETURNING queue, available_at
      ), notified AS (
        SELECT pg_notify($4, queue) FROM upd WHERE available_at <= now()
      )
      SELECT (SELECT count(*) FROM upd)::int AS changed, (SELECT count(*) FROM notified)::int AS notified,
        EXISTS (SELECT 1 FROM ${s}.jobs WHERE job_id = $1) AS present`,
  };
}

/** SQLite statements; `t(name)` quotes `<prefix><name>`. Times are epoch ms from the caller (@now). */
export function sqliteCoordinationSql(prefix: string) {
  const table = `"${prefix}coordination"`;
  return {
    create: `CREATE TABLE IF NOT EXISTS ${table} (
        key TEXT PRIMARY KEY,
        owner TEXT,
        count INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      )`,
    /** One row per schedule: its latest fired tick and latest manual run (epoch ms). */
    createLedger: `CREATE TABLE IF NOT EXISTS "${prefix}schedule_ledger" (
        schedule TEXT PRIMARY KEY,
        tick_at INTEGER,
        tick_job_id TEXT,
        tick_recorded_at INTEGER,
        run_job_id TEXT,
        run_at INTEGER
      )`,
    /** In: @schedule, @tick_at, @job_id, @now. Out: a row when recorded (later than the recorded tick). */
    recordTick: `INSERT INTO "${prefix}schedule_ledger" (schedule, tick_at, tick_job_id, tick_recorded_at)
        VALUES (@schedule, @tick_at, @job_id, @now)
      ON CONFLICT (schedule) DO UPDATE SET tick_at = @tick_at, tick_job_id = @job_id, tick_recorded_at = @now
        WHERE tick_at IS NULL OR tick_at < @tick_at
      RETURNING 1 AS recorded`,
    /** In: @schedule, @job_id, @now. Records a manual run. */
    recordRun: `INSERT INTO "${prefix}schedule_ledger" (schedule, run_job_id, run_at) VALUES (@schedule, @job_id, @now)
      ON CONFLICT (schedule) DO UPDATE SET run_job_id = @job_id, run_at = @now`,
    /** In: @schedule. Out: the row or none. */
    ledgerEntry: `SELECT tick_at, tick_job_id, tick_recorded_at, run_job_id, run_at FROM "${prefix}schedule_ledger" WHERE schedule = @schedule`,
    /** In: @key, @window_ms, @now. Out: { count }. */
    increment: `INSERT INTO ${table} (key, owner, count, expires_at) VALUES (@key, NULL, 1, @now + @window_ms)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN expires_at <= @now THEN 1 ELSE count + 1 END,
        owner = CASE WHEN expires_at <= @now THEN NULL ELSE owner END,
        expires_at = CASE WHEN expires_at <= @now THEN @now + @window_ms ELSE expires_at END
      RETURNING count`,
    /** In: @key, @owner, @ttl_ms, @now. Out: a row when @owner holds the lease now. */
    acquire: `INSERT INTO ${table} (key, owner, count, expires_at) VALUES (@key, @owner, 0, @now + @ttl_ms)
      ON CONFLICT (key) DO UPDATE SET owner = @owner, count = 0, expires_at = @now + @ttl_ms
        WHERE expires_at <= @now OR owner = @owner
      RETURNING 1 AS held`,
    /** In: @key, @owner, @now. Out: changes = 1 when freed. */
    release: `DELETE FROM ${table} WHERE key = @key AND owner = @owner AND expires_at > @now`,
    /** In: @key, @now. Out: { remaining_ms } or no row. */
    remaining: `SELECT max(0, expires_at - @now) AS remaining_ms FROM ${table} WHERE key = @key`,
    /** In: @key, @now. Out: { live } of the deleted row, or no row. */
    delete: `DELETE FROM ${table} WHERE key = @key RETURNING expires_at > @now AS live`,
    /** Hands a delivery back unrun, due at @available_at, neither count changed. In: @job_id, @token, @available_at. */
    postpone: `UPDATE "${prefix}jobs" SET available_at = @available_at, reserved_until = NULL, token = NULL
      WHERE job_id = @job_id AND token = @token`,
  };
}
