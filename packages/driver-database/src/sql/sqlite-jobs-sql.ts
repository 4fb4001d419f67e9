/**
 * The SQLite statements of jobs you can look up and steer: finished-job records and their pruning,
 * lookups by id and by state, progress, cancel, pause and resume. `t(name)` quotes a prefixed table
 * or index name. Times are epoch ms from the calling process (@now).
 */
export function sqliteJobsSql(t: (name: string) => string) {
  // The columns of a live job as LiveJobRow reads them; the state is decided at @now.
  const live = `job_id, queue, body, attempts, progress, holder, available_at, reserved_until AS lease_expires_at, claimed_at,
      CASE WHEN reserved_until IS NOT NULL THEN 'active' WHEN available_at > @now THEN 'delayed' ELSE 'waiting' END AS state`;
  const list = (where: string, order: string) =>
    `SELECT ${live} FROM ${t('jobs')} WHERE queue = @queue AND ${where} ORDER BY ${order} LIMIT @limit OFFSET @offset`;
  return {
    /**
     * Keeps a finished-job record; a job id finished again replaces its record (a new seq: it
     * moves to the front). In: @job_id, @queue, @state, @now, @record. Out: changes.
     */
    keepFinished: `INSERT OR REPLACE INTO ${t('finished_jobs')} (job_id, queue, state, finished_at, record)
      VALUES (@job_id, @queue, @state, @now, @record)`,
    /** In: @queue, @before (epoch ms). Deletes the queue's finished jobs stored before it, through (queue, finished_at, seq). */
    pruneByAge: `DELETE FROM ${t('finished_jobs')} WHERE queue = @queue AND finished_at < @before`,
    /** In: @queue, @count. Deletes the queue's finished jobs beyond the @count most recent. */
    pruneByCount: `DELETE FROM ${t('finished_jobs')} WHERE queue = @queue AND seq IN (
        SELECT seq FROM ${t('finished_jobs')} WHERE queue = @queue ORDER BY finished_at DESC, seq DESC LIMIT -1 OFFSET @count
      )`,

    /** In: @job_id, @queue (or null), @now. Out: zero or one LiveJobRow. */
    liveJob: `SELECT ${live} FROM ${t('jobs')} WHERE job_id = @job_id AND (@queue IS NULL OR queue = @queue)`,
    /** In: @job_id, @queue (or null). Out: zero or one row { record }. */
    finishedJob: `SELECT record FROM ${t('finished_jobs')} WHERE job_id = @job_id AND (@queue IS NULL OR queue = @queue)`,
    /** In: @queue, @now, @limit, @offset. Out: LiveJobRows in claim order. */
    listWaiting: list('reserved_until IS NULL AND available_at <= @now', 'priority, seq'),
    /** In: @queue, @now, @limit, @offset. Out: LiveJobRows by due time. */
    listDelayed: list('reserved_until IS NULL AND available_at > @now', 'available_at, seq'),
    /** In: @queue, @now, @limit, @offset. Out: LiveJobRows by lease expiry. */
    listActive: list('reserved_until IS NOT NULL', 'reserved_until, seq'),
    /** In: @queue, @state, @limit, @offset. Out: rows { record }, most recently finished first. */
    listFinished: `SELECT record FROM ${t('finished_jobs')} WHERE queue = @queue AND state = @state
      ORDER BY finished_at DESC, seq DESC LIMIT @limit OFFSET @offset`,

    /** In: @job_id, @token, @progress (JSON text). Out: changes = 1 when stored, 0 when the lease was lost. */
    setProgress: `UPDATE ${t('jobs')} SET progress = @progress WHERE job_id = @job_id AND token = @token`,
    /**
     * Why a settle with a token changed nothing. In: @job_id. Out: one row { present, cancelled } —
     * held by another delivery (lease lost), or gone because it was cancelled.
     */
    refused: `SELECT EXISTS (SELECT 1 FROM ${t('jobs')} WHERE job_id = @job_id) AS present,
        EXISTS (SELECT 1 FROM ${t('finished_jobs')} WHERE job_id = @job_id AND state = 'cancelled') AS cancelled`,

    /**
     * First step of a cancel (inside its transaction): deletes the live job, freeing its unique key
     * and ending its lease. In: @job_id, @queue (or null), @now. Out: zero or one LiveJobRow.
     */
    cancelLive: `DELETE FROM ${t('jobs')} WHERE job_id = @job_id AND (@queue IS NULL OR queue = @queue) RETURNING ${live}`,
    /** In: @job_id, @queue (or null). Out: one row { finished } — 1 when the job completed, was cancelled or failed. */
    isFinished: `SELECT EXISTS (SELECT 1 FROM ${t('finished_jobs')} WHERE job_id = @job_id AND (@queue IS NULL OR queue = @queue))
        OR EXISTS (SELECT 1 FROM ${t('failed_jobs')} WHERE job_id = @job_id AND (@queue IS NULL OR queue = @queue)) AS finished`,

    /** In: @queue, @now. Claims skip it from now on. */
    pause: `INSERT INTO ${t('paused_queues')} (queue, paused_at) VALUES (@queue, @now) ON CONFLICT DO NOTHING`,
    /** In: @queue. Out: changes = 1 when it was paused. */
    resume: `DELETE FROM ${t('paused_queues')} WHERE queue = @queue`,
  };
}
