/**
 * The SQLite statements of grouped claims (ReserveOptions.groupConcurrency): the lanes of a queue
 * (`job_groups`: one row per group, and '' for the ungrouped jobs, with when each was last served)
 * and the leases grouped claims took (`group_leases`, checked against the jobs table, so settling a
 * job needs no statement here: a lease row whose job is gone, re-leased or expired is stale and
 * dropped by the next claim of its group). `t(name)` quotes a prefixed name. Times are epoch ms (@now).
 */
export function sqliteGroupsSql(t: (name: string) => string) {
  // A lease row still held: its job carries the same token and the lease has not run out.
  const held = `EXISTS (SELECT 1 FROM ${t('jobs')} j WHERE j.seq = l.seq AND j.token = l.token AND j.reserved_until > @now)`;
  const claimed = `RETURNING job_id, queue, body, attempts, lost_deliveries, reserved_until AS lease_expires_at, token, priority, seq, group_key`;
  const lease = `reserved_until = @lease_until, token = lower(hex(randomblob(16))),
        lost_deliveries = lost_deliveries + (reserved_until IS NOT NULL), holder = @holder, claimed_at = @now`;
  const due = 'available_at <= @now AND (reserved_until IS NULL OR reserved_until <= @now)';
  return {
    /** In: @queue, @group_key (a group, or '' for the ungrouped lane). Adds the lane when new. */
    registerLane: `INSERT INTO ${t('job_groups')} (queue, group_key) VALUES (@queue, @group_key) ON CONFLICT DO NOTHING`,
    /** In: @queue. Out: one row when the queue has lanes (a grouped job was pushed to it). */
    hasLanes: `SELECT 1 AS present FROM ${t('job_groups')} WHERE queue = @queue LIMIT 1`,
    /**
     * A page of the queue's lanes, least recently served first, after the lane (@served,
     * @group_key) in that order. In: @queue, @served, @group_key, @limit. Out: rows { group_key, served }.
     */
    lanes: `SELECT group_key, served FROM ${t('job_groups')} INDEXED BY ${t('job_groups_turn_idx')}
      WHERE queue = @queue AND (served, group_key) > (@served, @group_key)
      ORDER BY served, group_key LIMIT @limit`,
    /** In: @queue. Out: one row { served }, the latest turn given in the queue (null: none). */
    lastTurn: `SELECT max(served) AS served FROM ${t('job_groups')} WHERE queue = @queue`,
    /** In: @queue. Out: one row when claims from the queue are paused. */
    queuePaused: `SELECT 1 AS paused FROM ${t('paused_queues')} WHERE queue = @queue`,
    /** In: @queue, @now. Deletes the queue's lease rows no longer held. */
    dropStaleLeases: `DELETE FROM ${t('group_leases')} AS l WHERE queue = @queue AND NOT ${held}`,
    /** In: @queue. Out: rows { group_key, active } — the lease rows per group (after dropStaleLeases: the held ones). */
    activeLeases: `SELECT group_key, count(*) AS active FROM ${t('group_leases')} WHERE queue = @queue GROUP BY group_key`,
    /**
     * Drops a group's lane when the group has no job left (none queued, delayed or leased); a later
     * push of the group adds it again. Run inside the claim's transaction, which no push can
     * interleave with. In: @queue, @group_key. Out: changes.
     */
    dropIdleLane: `DELETE FROM ${t('job_groups')} WHERE queue = @queue AND group_key = @group_key
      AND NOT EXISTS (SELECT 1 FROM ${t('jobs')} INDEXED BY ${t('jobs_group_idx')} WHERE queue = @queue AND group_key = @group_key)`,
    /**
     * Claims up to @max due jobs of one group (priority, then FIFO), as `claim` does.
     * In: @queue, @group_key, @now, @lease_until, @max, @holder. Out: rows as `claim`'s, plus group_key.
     */
    claimInGroup: `UPDATE ${t('jobs')} SET ${lease}
      WHERE seq IN (
        SELECT seq FROM ${t('jobs')} INDEXED BY ${t('jobs_group_idx')}
        WHERE queue = @queue AND group_key = @group_key AND ${due}
        ORDER BY priority, seq LIMIT @max
      )
      ${claimed}`,
    /**
     * Claims up to @max due ungrouped jobs of a queue that has groups (their lane's turn).
     * In: @queue, @now, @lease_until, @max, @holder. Out: rows as `claimInGroup`'s.
     */
    claimUngrouped: `UPDATE ${t('jobs')} SET ${lease}
      WHERE seq IN (
        SELECT seq FROM ${t('jobs')} INDEXED BY ${t('jobs_group_idx')}
        WHERE queue = @queue AND group_key IS NULL AND ${due}
        ORDER BY priority, seq LIMIT @max
      )
      ${claimed}`,
    /** In: @seq, @queue, @group_key, @token. Records a grouped lease (replacing the job's older one). */
    addLease: `INSERT OR REPLACE INTO ${t('group_leases')} (seq, queue, group_key, token) VALUES (@seq, @queue, @group_key, @token)`,
    /** In: @queue, @group_key, @served. Marks the lane served at turn @served (after every lane served before). */
    markServed: `UPDATE ${t('job_groups')} SET served = @served WHERE queue = @queue AND group_key = @group_key`,
  };
}
