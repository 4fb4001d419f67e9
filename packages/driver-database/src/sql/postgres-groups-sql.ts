import { claimedColumns, claimLeaseSet, tokenSeq } from './claim-lease.js';
/**
 * The PostgreSQL statements of grouped claims (ReserveOptions.groupConcurrency), run in one
 * transaction per claim round of two statements on one connection: the lanes of a queue
 * (`job_groups`: one row per group, and '' for the ungrouped jobs, with when each was last served)
 * are locked first, so that the claim statement afterwards sees every claim of those groups that
 * committed before; the leases grouped
 * claims took are the fencing tokens in their lane's row (`job_groups.leases`), checked against the
 * jobs table, so settling a job needs no statement here (a token whose job is gone, re-leased or
 * expired is stale and dropped when its lane is next served), and a claim writes no row per job
 * besides the job's own. `s` is the quoted schema; times are the server's now().
 */
export function postgresGroupsSql(s: string, epochMs: (column: string) => string) {
  // A due job (aliased j): a lease that ran out unsettled counts its lost delivery when claimed (as the plain claim does).
  const due = 'j.available_at <= now() AND (j.reserved_until IS NULL OR j.reserved_until <= now())';
  // The tokens of lane g's leases still held: each one's job carries it and the lease has not run out.
  const held = `ARRAY(SELECT t FROM unnest(g.leases) AS t
          WHERE EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.seq = ${tokenSeq('t')} AND j.token = t AND j.reserved_until > now()))`;
  return {
    /** In: $1 queue. Out: zero or one row — whether the queue has lanes (a grouped job was pushed to it). */
    hasLanes: `SELECT 1 AS present FROM ${s}.job_groups WHERE queue = $1 LIMIT 1`,
    /**
     * Locks up to $3 lanes of queue $1 that have a due job, are not in $2 (text[]) and, as far as
     * this statement sees, hold fewer than $4 live leases, least recently served first, skipping
     * lanes another claim holds. The count is read before the lock and may miss a claim that
     * committed in between: claimLanes counts again. In: $1 queue, $2 lanes already visited, $3 how
     * many, $4 group concurrency. Out: rows { group_key, paused, active } in turn order ('' is
     * the ungrouped lane, whose active is 0). The due job of each lane is looked for through the
     * lane index, lane by lane as the walk reaches it (a lateral LIMIT 1: an EXISTS may be planned
     * as one pass over every job of the table), and the count is taken once per lane (OFFSET 0
     * keeps it from being copied into the filter and the output).
     */
    lockLanes: `SELECT g.group_key, EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) AS paused, a.active
      FROM ${s}.job_groups g
      CROSS JOIN LATERAL (
        (SELECT 1 FROM ${s}.jobs j WHERE g.group_key <> '' AND j.queue = $1 AND j.group_key = g.group_key AND ${due} LIMIT 1)
        UNION ALL
        (SELECT 1 FROM ${s}.jobs j WHERE g.group_key = '' AND j.queue = $1 AND j.group_key IS NULL AND ${due} LIMIT 1)
        LIMIT 1
      ) d
      CROSS JOIN LATERAL (SELECT cardinality(${held}) AS active OFFSET 0) a
      WHERE g.queue = $1 AND g.group_key <> ALL($2::text[]) AND a.active < $4
      ORDER BY g.served, g.group_key
      LIMIT $3
      FOR UPDATE OF g SKIP LOCKED`,
    /**
     * Claims the share of each lane locked by lockLanes in one statement, which starts after the
     * lock and so sees every claim of those groups that committed before: each group of $2 at most
     * $3 jobs (at the same place) and no more than its room under $4 live leases, the ungrouped
     * lane '' its $3; marks the lanes served, in $2 order, after every other lane of the queue,
     * each with its live leases and the new ones. (OFFSET 0 keeps each lane's live leases from being
     * looked up twice: once for the room, once for the leases kept.)
     * In: $1 queue, $2 lanes text[], $3 shares int[], $4 group concurrency, $5 lease ms,
     * $6 token prefix, $7 holder or null. Out: rows as `claim`'s, with lane_ord (the lane's
     * 1-based place in $2).
     */
    claimLanes: `WITH wanted AS (
        SELECT w.group_key, w.ord, h.held,
          CASE WHEN w.group_key = '' THEN w.n ELSE least(w.n, $4 - cardinality(h.held)) END AS n
        FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS w(group_key, n, ord)
        JOIN ${s}.job_groups g ON g.queue = $1 AND g.group_key = w.group_key
        CROSS JOIN LATERAL (SELECT ${held} AS held OFFSET 0) h
      ), next AS (
        SELECT lane.seq, wanted.ord FROM wanted CROSS JOIN LATERAL (
          SELECT seq FROM ${s}.jobs
          WHERE queue = $1 AND group_key = wanted.group_key AND available_at <= now() AND (reserved_until IS NULL OR reserved_until <= now())
          ORDER BY priority, seq
          LIMIT greatest(wanted.n, 0)
          FOR UPDATE SKIP LOCKED
        ) lane WHERE wanted.group_key <> ''
        UNION ALL
        SELECT lane.seq, wanted.ord FROM wanted CROSS JOIN LATERAL (
          SELECT seq FROM ${s}.jobs
          WHERE queue = $1 AND group_key IS NULL AND available_at <= now() AND (reserved_until IS NULL OR reserved_until <= now())
          ORDER BY priority, seq
          LIMIT wanted.n
          FOR UPDATE SKIP LOCKED
        ) lane WHERE wanted.group_key = ''
      ), claimed AS (
        UPDATE ${s}.jobs j
        SET ${claimLeaseSet('$5', '$6', '$7')}
        FROM next WHERE j.seq = next.seq
        RETURNING ${claimedColumns(epochMs)}, next.ord AS lane_ord
      ), turns AS (
        SELECT t.group_key, t.leases, nextval('${s}.job_groups_served_seq') AS served
        FROM (
          SELECT w.ord, w.group_key, CASE WHEN w.group_key = '' THEN '{}' ELSE w.held || array_agg(c.token) END AS leases
          FROM wanted w JOIN claimed c ON c.lane_ord = w.ord GROUP BY w.ord, w.group_key, w.held
        ) t ORDER BY t.ord
      ), marked AS (
        UPDATE ${s}.job_groups g SET served = turns.served, leases = turns.leases
        FROM turns WHERE g.queue = $1 AND g.group_key = turns.group_key
      )
      SELECT job_id, queue, body, attempts, lost_deliveries, lease_expires_at, token, priority, seq, lane_ord FROM claimed`,
  };
}
