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
 * (queue, finished_at, seq); beyond the count with a chance of 1 in `every` per row stored (see
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
          SELECT g.finished_at, g.seq FROM ${s}.finished_jobs g WHERE g.queue = q.queue
          ORDER BY g.finished_at DESC, g.seq DESC OFFSET greatest(0, ${p.count}::int - q.stored) LIMIT 1
        ) edge
        WHERE q.count_due AND f.queue = q.queue AND (f.finished_at, f.seq) <= (edge.finished_at, edge.seq)
        RETURNING 1
      )`;
}

/** The upsert tail of an INSERT into finished_jobs: a job id finished again replaces its record (and moves to the front). */
export const FINISHED_UPSERT = `ON CONFLICT (job_id) DO UPDATE SET queue = excluded.queue, state = excluded.state,
        finished_at = excluded.finished_at, record = excluded.record, seq = excluded.seq`;

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
    /** In: $1 job id, $2 queue or null. Out: zero or one row { record }. */
    finishedJob: `SELECT record FROM ${s}.finished_jobs WHERE job_id = $1 AND ($2::text IS NULL OR queue = $2)`,
    /** In: $1 queue, $2 limit, $3 offset. Out: LiveJobRows in claim order. */
    listWaiting: list('reserved_until IS NULL AND available_at <= now()', 'priority, seq'),
    /** In: $1 queue, $2 limit, $3 offset. Out: LiveJobRows by due time. */
    listDelayed: list('reserved_until IS NULL AND available_at > now()', 'available_at, seq'),
    /** In: $1 queue, $2 limit, $3 offset. Out: LiveJobRows by lease expiry. */
    listActive: list('reserved_until IS NOT NULL', 'reserved_until, seq'),
    /** In: $1 queue, $2 state, $3 limit, $4 offset. Out: rows { record }, most recently finished first. */
    listFinished: `SELECT record FROM ${s}.finished_jobs WHERE queue = $1 AND state = $2
      ORDER BY finished_at DESC, seq DESC LIMIT $3 OFFSET $4`,

    /** In: $1 job id, $2 token, $3 progress JSON text. Out: rowCount 1 when stored, 0 when the lease was lost. */
    setProgress: `UPDATE ${s}.jobs SET progress = $3 FROM ${settleCommit} AS commit_mode WHERE job_id = $1 AND token = $2`,
    /**
     * Why a settle with a token changed nothing. In: $1 job id. Out: one row { present, cancelled } —
     * held by another delivery (lease lost), or gone because it was cancelled.
     */
    refused: `SELECT EXISTS (SELECT 1 FROM ${s}.jobs WHERE job_id = $1) AS present,
        EXISTS (SELECT 1 FROM ${s}.finished_jobs WHERE job_id = $1 AND state = 'cancelled') AS cancelled`,
    /** In: $1 job ids text[]. Out: rows { job_id } of those kept as cancelled (tells a cancel from a lost lease). */
    cancelledAmong: `SELECT job_id FROM ${s}.finished_jobs WHERE job_id = ANY($1::text[]) AND state = 'cancelled'`,

    /**
     * First step of a cancel (inside its transaction): deletes the live job, freeing its unique key
     * and ending its lease. In: $1 job id, $2 queue or null. Out: zero or one LiveJobRow plus
     * { now } (epoch ms).
     */
    cancelLive: `DELETE FROM ${s}.jobs WHERE job_id = $1 AND ($2::text IS NULL OR queue = $2)
      RETURNING ${live}, ${epochMs('now()')} AS now`,
    /**
     * Second step: keeps the cancelled record and prunes its queue.
     * In: $1 job id, $2 queue, $3 record, $4 count, $5 age ms, $6 every. Out: one row { stored }.
     */
    keepCancelled: `WITH stored AS (
        INSERT INTO ${s}.finished_jobs (job_id, queue, state, record) VALUES ($1, $2, 'cancelled', $3)
        ${FINISHED_UPSERT}
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
