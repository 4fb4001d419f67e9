/**
 * The PostgreSQL statements of jobs you can look up and steer: lookups by id and by state, progress,
 * cancel, pause and resume, and the pruning of finished jobs that every statement storing one ends
 * with. `s` is the quoted schema; `epochMs` renders a timestamptz as epoch ms (float8).
 */

/** The parameters (`$n`) a statement passes to {@link pruneFinished}: count, age ms, every. */
export interface PruneParameters {
  readonly count: string;
  readonly ageMs: string;
  readonly every: string;
}

/**
 * CTEs (to follow `WITH …,`) that prune the finished jobs of every queue `stored` (a CTE returning
 * `queue` of each row just stored): older than the age, on every store, through the index
 * (queue, finished_at); beyond the count with a chance of 1 in `every` per row stored (see
 * PruneBounds). The statement's snapshot does not see the rows it stores, so the count kept of the
 * older rows is the bound minus the rows stored.
 */
export function pruneFinished(s: string, stored: string, p: PruneParameters): string {
  return `prune_queues AS (
        SELECT queue, count(*)::int AS stored, bool_or(random() * ${p.every}::float8 < 1) AS count_due FROM ${stored} GROUP BY queue
      ), pruned_by_age AS (
        DELETE FROM ${s}.finished_jobs f USING prune_queues q
        WHERE f.queue = q.queue AND f.finished_at < now() - ${p.ageMs}::float8 * interval '1 millisecond'
        RETURNING 1
      ), pruned_by_count AS (
        DELETE FROM ${s}.finished_jobs f USING prune_queues q, LATERAL (
          SELECT g.finished_at FROM ${s}.finished_jobs g WHERE g.queue = q.queue
          ORDER BY g.finished_at DESC OFFSET greatest(0, ${p.count}::int - q.stored) LIMIT 1
        ) edge
        WHERE q.count_due AND f.queue = q.queue AND f.finished_at <= edge.finished_at
        RETURNING 1
      )`;
}

/** The statements; see {@link postgresSql} for the conventions. */
export function postgresJobsSql(s: string, epochMs: (column: string) => string, settleCommit: string) {
  // The columns of a live job as LiveJobRow reads them; the state is decided on the server's clock.
  const live = `job_id, queue, body, attempts, progress, holder, ${epochMs('available_at')} AS available_at,
      ${epochMs('reserved_until')} AS lease_expires_at, ${epochMs('claimed_at')} AS claimed_at,
      CASE WHEN reserved_until IS NOT NULL THEN 'active' WHEN available_at > now() THEN 'delayed' ELSE 'waiting' END AS state`;
  const list = (where: string, order: string) =>
    `SELECT ${live} FROM ${s}.jobs WHERE queue = $1 AND ${where} ORDER BY ${order} LIMIT $2 OFFSET $3`;
  return {
    /** In: $1 job id, $2 queue or null. Out: zero or one LiveJobRow. */
    liveJob: `SELECT ${live} FROM ${s}.jobs WHERE job_id = $1 AND ($2::text IS NULL OR queue = $2)`,
    /** In: $1 job id, $2 queue or null. Out: zero or one row { record }: the newest (an id finished twice keeps both until pruned). */
    finishedJob: `SELECT record FROM ${s}.finished_jobs WHERE job_id = $1 AND ($2::text IS NULL OR queue = $2)
      ORDER BY finished_at DESC LIMIT 1`,
    /** In: $1 queue, $2 limit, $3 offset. Out: LiveJobRows in claim order. */
    listWaiting: list('reserved_until IS NULL AND available_at <= now()', 'priority, seq'),
    /** In: $1 queue, $2 limit, $3 offset. Out: LiveJobRows by due time. */
    listDelayed: list('reserved_until IS NULL AND available_at > now()', 'available_at, seq'),
    /** In: $1 queue, $2 limit, $3 offset. Out: LiveJobRows by lease expiry. */
    listActive: list('reserved_until IS NOT NULL', 'reserved_until, seq'),
    /** In: $1 queue, $2 state, $3 limit, $4 offset. Out: rows { record }, most recently finished first. */
    listFinished: `SELECT record FROM ${s}.finished_jobs WHERE queue = $1 AND state = $2
      ORDER BY finished_at DESC LIMIT $3 OFFSET $4`,

    /** In: $1 job id, $2 token, $3 progress JSON text. Out: rowCount 1 when stored, 0 when the lease was lost. */
    setProgress: `UPDATE ${s}.jobs SET progress = $3 FROM ${settleCommit} AS commit_mode WHERE job_id = $1 AND token = $2`,
    /**
     * Why a settle with a token changed nothing. In: $1 job id. Out: one row { present, cancelled } —
     * held by another delivery (lease lost), or gone because it was cancelled.
     */
    refused: `SELECT EXISTS (SELECT 1 FROM ${s}.jobs WHERE job_id = $1) AS present,
        coalesce((SELECT state = 'cancelled' FROM ${s}.finished_jobs WHERE job_id = $1 ORDER BY finished_at DESC LIMIT 1), false) AS cancelled`,
    /** In: $1 job ids text[]. Out: rows { job_id } of those kept as cancelled (tells a cancel from a lost lease). */
    cancelledAmong: `SELECT job_id FROM (
        SELECT DISTINCT ON (job_id) job_id, state FROM ${s}.finished_jobs WHERE job_id = ANY($1::text[]) ORDER BY job_id, finished_at DESC
      ) newest WHERE state = 'cancelled'`,

    /**
     * First step of a cancel (inside its transaction): deletes the live job, freeing its unique key
     * and ending its lease. In: $1 job id, $2 queue or null. Out: zero or one LiveJobRow plus
     * { now } (epoch ms).
     */
    cancelLive: `DELETE FROM ${s}.jobs WHERE job_id = $1 AND ($2::text IS NULL OR queue = $2)
      RETURNING ${live}, ${epochMs('now()')} AS now`,
    /**
     * Second step: keeps the cancelled record (replacing an older record of the id) and prunes its
     * queue. In: $1 job id, $2 queue, $3 record, $4 count, $5 age ms, $6 every. Out: one row { stored }.
     */
    keepCancelled: `WITH replaced AS (
        DELETE FROM ${s}.finished_jobs WHERE job_id = $1
      ), stored AS (
        INSERT INTO ${s}.finished_jobs (job_id, queue, state, record) VALUES ($1, $2, 'cancelled', $3)
        RETURNING queue
      ), ${pruneFinished(s, 'stored', { count: '$4', ageMs: '$5', every: '$6' })}
      SELECT count(*)::int AS stored FROM stored`,
    /** In: $1 job id, $2 queue or null. Out: one row { finished } — whether the job completed, was cancelled or failed. */
    isFinished: `SELECT EXISTS (SELECT 1 FROM ${s}.finished_jobs WHERE job_id = $1 AND ($2::text IS NULL OR queue = $2))
        OR EXISTS (SELECT 1 FROM ${s}.failed_jobs WHERE job_id = $1 AND ($2::text IS NULL OR queue = $2)) AS finished`,

    /** In: $1 queue. Claims skip it from now on. */
    pause: `INSERT INTO ${s}.paused_queues (queue) VALUES ($1) ON CONFLICT DO NOTHING`,
    /** In: $1 queue, $2 channel. Out: one row { resumed } — NOTIFYs the queue when it was paused, waking waiting reserves. */
    resume: `WITH del AS (
        DELETE FROM ${s}.paused_queues WHERE queue = $1 RETURNING queue
      ), notified AS (
        SELECT pg_notify($2, queue) FROM del
      )
      SELECT (SELECT count(*) FROM notified)::int AS resumed`,
  };
}
