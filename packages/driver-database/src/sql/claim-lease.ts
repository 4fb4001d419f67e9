/**
 * The SET of every PostgreSQL claim (aliased `j`): the lease from the server's now(), the fencing
 * token `<prefix>:<seq>`, the lost delivery that a lease run out unsettled counts, the claimer and
 * the claim time. In: the placeholders of the lease ms, the token prefix and the holder.
 */
export function claimLeaseSet(leaseMs: string, tokenPrefix: string, holder: string): string {
  return `reserved_until = now() + ${leaseMs} * interval '1 millisecond', token = ${tokenPrefix} || ':' || j.seq,
        lost_deliveries = j.lost_deliveries + (j.reserved_until IS NOT NULL)::int, holder = ${holder}, claimed_at = now()`;
}

/** The seq of the job a fencing token of claimLeaseSet was given to (`<prefix>:<seq>`), of a token expression. */
export function tokenSeq(token: string): string {
  return `split_part(${token}, ':', 2)::bigint`;
}

/** The columns a claim returns (a ClaimedRow with its token, priority and seq), of the claimed rows aliased `j`. */
export function claimedColumns(epochMs: (column: string) => string): string {
  return `j.job_id, j.queue, j.body, j.attempts, j.lost_deliveries, ${epochMs('j.reserved_until')} AS lease_expires_at,
        j.token, j.priority, j.seq::float8 AS seq`;
}
