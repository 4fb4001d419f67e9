import { type CancelOutcome, DriverError, type JobInfo, type JobListOptions, type Reservation } from '@queuekit/core';
import { cancelledJob, decodeFinishedJob, encodeFinishedJob, finishedJobInfo, jobListPaging, liveJobInfo } from '@queuekit/core/driver';
import { runScript, type ScriptReply, scripts } from './lua-scripts.js';
import type { RedisCallContext } from './redis-context.js';
import { refusalError } from './redis-errors.js';
import { registryKey } from './redis-keys.js';

/**
 * Looking jobs up and steering them: getJob, listJobs, cancel, setProgress, pause and resume. Each
 * reads or changes one queue in one script call; a lookup by id without a queue asks every queue in
 * the registry set (`<prefix>:queues`) at once, one call per queue, since on Redis Cluster the
 * queues live on different nodes.
 */

/** What the lookup calls need of their driver beyond the shared call context. */
export interface RedisJobsContext extends RedisCallContext {
  /** The driver's key prefix (for the registry of queue names). */
  readonly keyPrefix: string;
}

/** A job as job-get.lua found it in one queue. */
type Found =
  | { readonly queue: string; readonly now: number; readonly kind: 'live'; readonly fields: readonly ScriptReply[] }
  | { readonly queue: string; readonly now: number; readonly kind: 'completed' | 'cancelled'; readonly record: string };

/** Reads of a job a cancel makes before giving up on one that keeps changing under it. */
const CANCEL_TRIES = 10;

/** The job `id` (in `queue`, or in any queue the registry knows): live, or the finished record kept of it. */
export async function getJob(ctx: RedisJobsContext, id: string, queue: string | undefined): Promise<JobInfo | undefined> {
  const found = await locate(ctx, id, queue);
  if (found === undefined) return undefined;
  return found.kind === 'live' ? liveInfo(found.queue, found.fields) : finishedJobInfo(decodeFinishedJob(found.record));
}

/** One page of the jobs of one queue in one state (see job-list.lua for the orders). */
export async function listJobs(ctx: RedisJobsContext, options: JobListOptions): Promise<JobInfo[]> {
  const { queue, state, limit, offset } = jobListPaging('redis', options);
  if (limit === 0) return [];
  const keys = ctx.keysOf(queue);
  const reply = (await runScript(
    ctx.client,
    scripts.jobList,
    [
      keys.ready,
      keys.delayed,
      keys.leased,
      keys.seq,
      keys.prios,
      keys.completedIds,
      keys.completedInfo,
      keys.cancelledIds,
      keys.cancelledInfo,
      keys.completedOldIndex,
      keys.cancelledOldIndex,
    ],
    [keys.jobPrefix, state, offset, limit],
  )) as ScriptReply[];
  if (state === 'completed' || state === 'cancelled') return reply.map((record) => finishedJobInfo(decodeFinishedJob(String(record))));
  return reply.map((fields) => liveInfo(queue, fields as ScriptReply[]));
}

/**
 * Cancels a live job: reads it, makes its `cancelled` record through core (as every driver does),
 * and has cancel.lua end it if it is still as read; reads again when it changed meanwhile.
 */
export async function cancel(ctx: RedisJobsContext, id: string, queue: string | undefined): Promise<CancelOutcome> {
  for (let tries = 0; tries < CANCEL_TRIES; tries += 1) {
    const found = await locate(ctx, id, queue);
    if (found === undefined) return 'not-found';
    if (found.kind !== 'live') return 'finished';
    const keys = ctx.keysOf(found.queue);
    const [, , , attempts, progress, , , , , token] = found.fields.map(String);
    const record = encodeFinishedJob(cancelledJob(liveInfo(found.queue, found.fields), found.now));
    const reply = await runScript(
      ctx.client,
      scripts.cancel,
      [keys.ready, keys.delayed, keys.leased, keys.unique, keys.cancelledIds, keys.cancelledInfo, keys.cancelledOldIndex],
      [
        keys.jobPrefix + id,
        id,
        token ?? '',
        attempts ?? '0',
        progress ?? '',
        record,
        ctx.retention.count,
        Math.ceil(ctx.retention.ageMs),
        ctx.retention.pruneStep,
      ],
    );
    if (reply === 1) return 'cancelled';
  }
  throw new DriverError(`redis: cancel of job ${id}: the job changed between each of ${CANCEL_TRIES} reads and the cancel`);
}

/** Stores the progress of a held job; LeaseLostError when its lease was lost, JobCancelledError when it was cancelled. */
export async function setProgress(ctx: RedisCallContext, reservation: Reservation, progress: string): Promise<void> {
  const keys = ctx.keysOf(reservation.queue);
  const reply = await runScript(
    ctx.client,
    scripts.progress,
    [keys.leased, keys.cancelledInfo],
    [keys.jobPrefix + reservation.id, reservation.id, reservation.token, progress],
  );
  if (reply !== 1) throw refusalError(reply, 'setProgress', reservation);
}

/** Pauses claims from `queue` for every driver on this Redis. */
export async function pause(ctx: RedisCallContext, queue: string): Promise<void> {
  await ctx.client.set(ctx.keysOf(queue).paused, '1');
}

/** Resumes claims from `queue`, waking reserves blocked on it. */
export async function resume(ctx: RedisCallContext, queue: string): Promise<void> {
  const keys = ctx.keysOf(queue);
  await runScript(ctx.client, scripts.resume, [keys.paused, keys.marker], []);
}

/**
 * Finds the job `id` in `queue`, or else in every queue of the registry (asked at once); a live
 * job wins over a finished record of the same id elsewhere.
 */
async function locate(ctx: RedisJobsContext, id: string, queue: string | undefined): Promise<Found | undefined> {
  if (queue !== undefined) return lookIn(ctx, id, queue);
  const queues = await ctx.client.smembers(registryKey(ctx.keyPrefix));
  const found = (await Promise.all(queues.sort().map((name) => lookIn(ctx, id, name)))).filter((f) => f !== undefined);
  return found.find((f) => f.kind === 'live') ?? found[0];
}

async function lookIn(ctx: RedisJobsContext, id: string, queue: string): Promise<Found | undefined> {
  const keys = ctx.keysOf(queue);
  const reply = (await runScript(
    ctx.client,
    scripts.jobGet,
    [keys.ready, keys.delayed, keys.leased, keys.seq, keys.prios, keys.completedInfo, keys.cancelledInfo],
    [keys.jobPrefix, id],
  )) as ScriptReply[];
  const now = Number(reply[0]);
  const kind = reply[1];
  if (kind === 'live') return { queue, now, kind, fields: reply.slice(2) };
  if (kind === 'completed' || kind === 'cancelled') return { queue, now, kind, record: String(reply[2]) };
  return undefined;
}

/** A JobInfo from the fields of live-job.lua, built by core's liveJobInfo. */
function liveInfo(queue: string, fields: readonly ScriptReply[]): JobInfo {
  const [id, state, body, attempts, progress, readyAt, holder, claimedAt, score] = fields.map(String) as [
    string,
    'waiting' | 'delayed' | 'active',
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const availableAt = state === 'delayed' ? Number(score) : readyAt === '' ? undefined : Number(readyAt);
  return liveJobInfo({
    id,
    queue,
    state,
    body,
    attempts: Number(attempts),
    ...(availableAt === undefined ? {} : { availableAt }),
    ...(progress === '' ? {} : { progress }),
    ...(state === 'active' ? { lease: { holder: holder === '' ? undefined : holder, expiresAt: Number(score) } } : {}),
    ...(state === 'active' && claimedAt !== '' ? { startedAt: Number(claimedAt) } : {}),
  });
}
