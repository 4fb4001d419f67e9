import { claimedColumns, claimLeaseSet } from './claim-lease.js';
/**
 * The PostgreSQL statements of grouped claims (ReserveOptions.groupConcurrency), run in one
 * transaction per claim on one connection: the lanes of a queue (`job_groups`: one row per group,
 * and '' for the ungrouped jobs, with when each was last served) are locked first, so that a
 * statement afterwards sees every claim of those groups that committed before; the leases grouped
 * claims took are rows of `group_leases`, checked against the jobs table, so settling a job needs
 * no statement here (a lease row whose job is gone, re-leased or expired is stale and dropped by
 * the next claim of its group). `s` is the quoted schema; times are the server's now().
 */
export function postgresGroupsSql(s: string, epochMs: (column: string) => string) {
  // The claim of one lane: due rows in priority then FIFO order, skipping rows other claims hold;
  // a lease that ran out unsettled counts its lost delivery (as the plain claim does).
  const due = 'j.available_at <= now() AND (j.reserved_until IS NULL OR j.reserved_until <= now())';
  const claimLane = (lane: string) => `WITH next AS (
        SELECT seq FROM ${s}.jobs
        WHERE queue = $1 AND ${lane} AND available_at <= now() AND (reserved_until IS NULL OR reserved_until <= now())
        ORDER BY priority, seq
        LIMIT $3
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${s}.jobs j
      SET ${claimLeaseSet('$4', '$5', '$6')}
      FROM next WHERE j.seq = next.seq
      RETURNING ${claimedColumns(epochMs)}`;
  return {
    /** In: $1 queue. Out: zero or one row — whether the queue has lanes (a grouped job was pushed to it). */
    hasLanes: `SELECT 1 AS present FROM ${s}.job_groups WHERE queue = $1 LIMIT 1`,
    /**
     * Locks up to $3 lanes of queue $1 that have a due job and are not in $2 (text[]), least
     * recently served first, skipping lanes another claim holds. In: $1 queue, $2 lanes already
     * visited, $3 how many. Out: rows { group_key, paused } in turn order ('' is the ungrouped lane).
     */
    lockLanes: `SELECT g.group_key, EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) AS paused
      FROM ${s}.job_groups g WHERE g.queue = $1 AND g.group_key <> ALL($2::text[])
        AND CASE WHEN g.group_key = '' THEN EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.queue = $1 AND j.group_key IS NULL AND ${due})
          ELSE EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.queue = $1 AND j.group_key = g.group_key AND ${due}) END
      ORDER BY g.served, g.group_key
      LIMIT $3
      FOR UPDATE OF g SKIP LOCKED`,
    /**
     * Drops the stale lease rows of groups $2 (text[]) of queue $1 and counts the held ones.
     * Run after lockLanes locked those groups. Out: rows { group_key, active } of groups holding leases.
     */
    activeLeases: `WITH held AS (
        SELECT l.seq, l.group_key,
          EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.seq = l.seq AND j.token = l.token AND j.reserved_until > now()) AS live
        FROM ${s}.group_leases l WHERE l.queue = $1 AND l.group_key = ANY($2::text[])
      ), stale AS (
        DELETE FROM ${s}.group_leases l USING held WHERE l.seq = held.seq AND NOT held.live RETURNING 1
      )
      SELECT group_key, count(*)::int AS active, (SELECT count(*) FROM stale)::int AS dropped
      FROM held WHERE live GROUP BY group_key`,
    /**
     * Claims, for each group of $2 (text[]) of queue $1, up to as many due jobs as $3 (int[]) says
     * at the same place: every grouped lane of a claim in one statement.
     * In: $1 queue, $2 groups, $3 how many of each, $4 lease ms, $5 token prefix, $6 holder or null.
     * Out: rows as `claim`'s, with the job's group_key.
     */
    claimInGroups: `WITH next AS (
        SELECT lane.seq FROM unnest($2::text[], $3::int[]) AS w(group_key, n)
        CROSS JOIN LATERAL (
          SELECT seq FROM ${s}.jobs
          WHERE queue = $1 AND group_key = w.group_key AND available_at <= now() AND (reserved_until IS NULL OR reserved_until <= now())
          ORDER BY priority, seq
          LIMIT w.n
          FOR UPDATE SKIP LOCKED
        ) lane
      )
      UPDATE ${s}.jobs j
      SET ${claimLeaseSet('$4', '$5', '$6')}
      FROM next WHERE j.seq = next.seq
      RETURNING ${claimedColumns(epochMs)}, j.group_key`,
    /**
     * Claims up to $3 due ungrouped jobs of queue $1 (their lane's turn); $2 is unused ('').
     * In and out as claimInGroups (one lane).
     */
    claimUngrouped: claimLane('group_key IS NULL AND $2::text IS NOT NULL'),
    /**
     * Records the leases of grouped claims and marks lanes served, in turn order, after every other
     * lane of the queue. In: $1 queue, $2 seqs bigint[], $3 groups text[], $4 tokens text[],
     * $5 lanes served text[] (in the order they were served).
     */
    recordTurns: `WITH leases AS (
        INSERT INTO ${s}.group_leases (seq, queue, group_key, token)
        SELECT r.seq, $1, r.group_key, r.token FROM unnest($2::bigint[], $3::text[], $4::text[]) AS r(seq, group_key, token)
        ON CONFLICT (seq) DO UPDATE SET queue = excluded.queue, group_key = excluded.group_key, token = excluded.token
        RETURNING 1
      ), turns AS (
        SELECT u.group_key, u.ord, nextval('${s}.job_groups_served_seq') AS served
        FROM unnest($5::text[]) WITH ORDINALITY AS u(group_key, ord) ORDER BY u.ord
      ), marked AS (
        UPDATE ${s}.job_groups g SET served = turns.served FROM turns WHERE g.queue = $1 AND g.group_key = turns.group_key RETURNING 1
      )
      SELECT (SELECT count(*) FROM leases)::int AS leases, (SELECT count(*) FROM marked)::int AS marked`,
  };
}
