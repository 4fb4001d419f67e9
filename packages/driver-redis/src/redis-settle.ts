import type { AckAndClaimResult, Reservation } from '@queuekit/core';
import { runIdempotentScript, runScript, type ScriptReply, scripts } from './lua-scripts.js';
import type { RedisCallContext } from './redis-context.js';
import { leaseLostError, refusalError } from './redis-errors.js';
import { claimedReservations } from './redis-reservation.js';

/**
 * Settling deliveries: ack, ack-and-claim, release, give-back and lease renewal. The calls over
 * many reservations group them by queue (a script touches one queue's keys, one Cluster slot) and
 * send one script call per queue, all pipelined.
 *
 * Calls whose rerun is harmless are sent again when the connection closes before their reply
 * (see runIdempotentScript): ack, give-back, extend, and the acknowledging part of ack-and-claim.
 */

/**
 * Settles a completed job: deleted, its finished-job `record` kept where retention keeps completed
 * jobs; a no-op when it is already gone; LeaseLostError when another holds it.
 */
export async function ackOne(ctx: RedisCallContext, reservation: Reservation, record: string | undefined): Promise<void> {
  const keys = ctx.keysOf(reservation.queue);
  const { retention } = ctx;
  const reply = await runIdempotentScript(
    ctx.client,
    scripts.ack,
    [keys.leased, keys.unique, keys.completedIds, keys.completedInfo, keys.completedOldIndex],
    [
      keys.jobPrefix + reservation.id,
      reservation.id,
      reservation.token,
      retention.completed ? (record ?? '') : '',
      retention.count,
      Math.ceil(retention.ageMs),
      retention.pruneStep,
    ],
  );
  if (reply === -1) throw leaseLostError('ack', reservation);
}

/**
 * Acknowledges `acks` (one ack-and-claim.lua call per queue, pipelined), keeping `records[i]` of
 * `acks[i]` where retention keeps completed jobs, and claims up to `max` jobs of `queues[0]` (held
 * by `holder`) in the call of that queue. Jobs of later queues are not claimed here: the
 * contract lets this return fewer, and claiming them would take another round trip after the
 * first reply (to learn whether `queues[0]` had enough).
 *
 * A call that claims is resent without its claim when the connection closes before the reply: its
 * first send may have run and claimed jobs whose reply is lost, and a rerun would claim again.
 * Those first claims belong to no one; they come back when their lease runs out, counted as a lost
 * delivery, like any claim whose reply died with its connection. The acks are safe to resend.
 */
export async function ackAndClaim(
  ctx: RedisCallContext,
  acks: readonly Reservation[],
  queues: readonly string[],
  leaseMs: number,
  max: number,
  holder: string,
  records: readonly (string | undefined)[] | undefined,
  groupConcurrency: number,
): Promise<AckAndClaimResult> {
  // Per queue: its deliveries, and the id, token, record ('' for none) of each, as the script takes them.
  const groups = new Map<string, { readonly acks: Reservation[]; readonly triples: string[] }>();
  const keep = ctx.retention.completed && records !== undefined;
  acks.forEach((reservation, index) => {
    let group = groups.get(reservation.queue);
    if (group === undefined) {
      group = { acks: [], triples: [] };
      groups.set(reservation.queue, group);
    }
    group.acks.push(reservation);
    group.triples.push(reservation.id, reservation.token, keep ? (records?.[index] ?? '') : '');
  });
  const { count, ageMs, pruneStep } = ctx.retention;
  const claimQueue = max > 0 ? queues[0] : undefined;
  if (claimQueue !== undefined && !groups.has(claimQueue)) groups.set(claimQueue, { acks: [], triples: [] });
  const lost = new Set<Reservation>();
  let claimed: Reservation[] = [];
  await Promise.all(
    [...groups].map(async ([queue, { acks: group, triples }]) => {
      const keys = ctx.keysOf(queue);
      const wanted = queue === claimQueue ? max : 0;
      const base = wanted > 0 ? ctx.nextToken() : '';
      const retention = [count, Math.ceil(ageMs), pruneStep];
      const args = [keys.jobPrefix, base, leaseMs, wanted, holder, ...retention, groupConcurrency, ...triples];
      const [codes, flat] = (await runIdempotentScript(
        ctx.client,
        scripts.ackAndClaim,
        [
          keys.ready,
          keys.delayed,
          keys.leased,
          keys.seq,
          keys.marker,
          keys.prios,
          keys.unique,
          keys.paused,
          keys.completedIds,
          keys.completedInfo,
          keys.completedOldIndex,
        ],
        args,
        wanted > 0 ? [keys.jobPrefix, base, leaseMs, 0, holder, ...retention, 0, ...triples] : args,
      )) as [number[], ScriptReply[]];
      group.forEach((reservation, index) => {
        if (codes[index] === -1) lost.add(reservation);
      });
      if (wanted > 0) claimed = claimedReservations(queue, base, flat);
    }),
  );
  return { leaseLost: lost.size === 0 ? [] : acks.filter((reservation) => lost.has(reservation)), claimed };
}

/** Settles a failed run: its attempt is counted, the job is available after `delayMs`; LeaseLostError when lost. */
export async function releaseOne(
  ctx: RedisCallContext,
  reservation: Reservation,
  delayMs: number,
  body: string,
  priority: number | '',
): Promise<void> {
  const keys = ctx.keysOf(reservation.queue);
  const reply = await runScript(
    ctx.client,
    scripts.release,
    [keys.ready, keys.delayed, keys.leased, keys.seq, keys.marker, keys.prios, keys.cancelledInfo],
    [keys.jobPrefix + reservation.id, reservation.id, reservation.token, Math.max(0, Math.ceil(delayMs)), body, priority],
  );
  if (reply !== 1) throw refusalError(reply, 'release', reservation);
}

/**
 * Hands jobs back unrun (give-back.lua, one call per queue): front of their priority band, counts
 * unchanged; those whose lease was lost are skipped. Resolves how many were given back. After a
 * resend (the connection closed before a reply) the jobs its first send gave back are skipped by
 * the second, so the count can fall short of what was given back.
 */
export async function giveBackMany(ctx: RedisCallContext, reservations: readonly Reservation[]): Promise<number> {
  if (reservations.length === 0) return 0;
  const counts = await Promise.all(
    [...groupByQueue(reservations)].map(([queue, group]) => {
      const keys = ctx.keysOf(queue);
      return runIdempotentScript(
        ctx.client,
        scripts.giveBack,
        [keys.ready, keys.leased, keys.marker, keys.prios],
        [keys.jobPrefix, ...tokenPairs(group)],
      );
    }),
  );
  return counts.reduce<number>((sum, count) => sum + Number(count), 0);
}

/**
 * Renews many leases to `leaseMs` from now (extend.lua, one call per queue); resolves per
 * reservation, in order, the new expiry (epoch ms), 'cancelled' where the job was cancelled, or
 * undefined where the lease was lost.
 */
export async function extendMany(
  ctx: RedisCallContext,
  reservations: readonly Reservation[],
  leaseMs: number,
): Promise<(number | 'cancelled' | undefined)[]> {
  const expiries = new Map<Reservation, number | 'cancelled'>();
  await Promise.all(
    [...groupByQueue(reservations)].map(async ([queue, group]) => {
      const keys = ctx.keysOf(queue);
      const reply = (await runIdempotentScript(
        ctx.client,
        scripts.extend,
        [keys.leased, keys.cancelledInfo],
        [keys.jobPrefix, Math.ceil(leaseMs), ...tokenPairs(group)],
      )) as number[];
      group.forEach((reservation, index) => {
        const at = Number(reply[index]);
        if (at === -2) expiries.set(reservation, 'cancelled');
        else if (at !== -1) expiries.set(reservation, at);
      });
    }),
  );
  return reservations.map((reservation) => expiries.get(reservation));
}

/** The reservations by queue, each group in the order given. */
function groupByQueue(reservations: readonly Reservation[]): Map<string, Reservation[]> {
  const groups = new Map<string, Reservation[]>();
  for (const reservation of reservations) {
    const group = groups.get(reservation.queue);
    if (group === undefined) groups.set(reservation.queue, [reservation]);
    else group.push(reservation);
  }
  return groups;
}

/** id, token of each reservation, flat, as the scripts take them. */
function tokenPairs(reservations: readonly Reservation[]): string[] {
  const pairs: string[] = [];
  for (const { id, token } of reservations) pairs.push(id, token);
  return pairs;
}
