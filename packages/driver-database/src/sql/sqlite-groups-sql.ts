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
     * The next due job of each lane of @lanes (a JSON array of [group_key, priority, seq]: the lane,
     * and the place in claim order its next job comes after), read without claiming it.
     * In: @queue, @now, @lanes. Out: a row { ord, seq, priority } per lane in @lanes order (ord its
     * index; seq and priority null when the lane has no due job past its place).
     */
    pickInGroups: `SELECT p.key AS ord, j.seq, j.priority FROM json_each(@lanes) AS p
      LEFT JOIN ${t('jobs')} AS j ON j.seq = (
        SELECT seq FROM ${t('jobs')} INDEXED BY ${t('jobs_group_idx')}
        WHERE queue = @queue AND group_key = json_extract(p.value, '$[0]')
          AND (priority, seq) > (json_extract(p.value, '$[1]'), json_extract(p.value, '$[2]')) AND ${due}
        ORDER BY priority, seq LIMIT 1
      )
      ORDER BY p.key`,
    /**
     * The next due ungrouped job of a queue that has groups, past (@priority, @seq) in claim order,
     * read without claiming it. In: @queue, @now, @priority, @seq. Out: zero or one row { seq, priority }.
     */
    pickUngrouped: `SELECT seq, priority FROM ${t('jobs')} INDEXED BY ${t('jobs_group_idx')}
      WHERE queue = @queue AND group_key IS NULL AND (priority, seq) > (@priority, @seq) AND ${due}
      ORDER BY priority, seq LIMIT 1`,
    /**
     * Claims the jobs @seqs (a JSON array of seqs, picked by pickInGroups or pickUngrouped in the
     * same transaction), as `claim` does. In: @seqs, @now, @lease_until, @holder.
     * Out: rows as `claim`'s, plus group_key.
     */
    claimPicked: `UPDATE ${t('jobs')} SET ${lease}
      WHERE seq IN (SELECT value FROM json_each(@seqs))
      ${claimed}`,
    /**
     * Records grouped leases (replacing a job's older one). In: @queue, @leases (a JSON array of
     * [seq, group_key, token]).
     */
    addLeases: `INSERT OR REPLACE INTO ${t('group_leases')} (seq, queue, group_key, token)
      SELECT json_extract(value, '$[0]'), @queue, json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(@leases)`,
    /**
     * Marks lanes served: each lane of @served (a JSON array of [group_key, turn], a lane at most
     * once) at its turn, after every lane served before. The lanes are there (a job of each was
     * just claimed), so the upsert only updates: it is the form that looks each lane up by its key.
     * In: @queue, @served.
     */
    markServed: `INSERT INTO ${t('job_groups')} (queue, group_key, served)
      SELECT @queue, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@served) WHERE true
      ON CONFLICT (queue, group_key) DO UPDATE SET served = excluded.served`,
  };
}
