import {
  cancelJob,
  type JobInfo,
  type JobState,
  listJobs,
  lookupJob,
  maskSensitive,
  pauseQueue,
  quoteInput,
  resumeQueue,
} from '@queuekit/core';
import { CliError, EXIT_FAILURE, EXIT_OK } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { formatTime, renderTable } from '../output/table.js';

/** Flags common to the job commands. */
export interface JobCommandOptions {
  readonly connection?: string;
  readonly json?: boolean;
}

/** Flags of `queue job show|cancel`. */
export interface JobIdOptions extends JobCommandOptions {
  /** The job's queue, when known (faster on drivers whose keys are per queue). */
  readonly queue?: string;
}

/** The job as printed: payload, result, progress and error masked as the logger masks them, unless `reveal`. */
function printable(info: JobInfo, reveal: boolean | undefined): JobInfo {
  return reveal === true ? info : (maskSensitive(info) as JobInfo);
}

/** A job as JSON: every field, times also as ISO strings, absent ones as null. */
function jobJson(info: JobInfo): Record<string, unknown> {
  const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());
  return {
    id: info.id,
    queue: info.queue,
    name: info.name ?? null,
    state: info.state,
    attempts: info.attempts,
    progress: info.progress ?? null,
    result: info.result ?? null,
    lastError: info.lastError ?? null,
    deadLetterReason: info.deadLetterReason ?? null,
    lease: info.lease ?? null,
    createdAt: info.createdAt ?? null,
    availableAt: info.availableAt ?? null,
    startedAt: info.startedAt ?? null,
    finishedAt: info.finishedAt ?? null,
    times: {
      createdAt: iso(info.createdAt),
      availableAt: iso(info.availableAt),
      startedAt: iso(info.startedAt),
      finishedAt: iso(info.finishedAt),
    },
    payload: info.envelope?.payload ?? null,
    envelope: info.envelope ?? null,
  };
}

const json = (value: unknown) => JSON.stringify(value ?? null, null, 2);

/** `queue job show ID`: the job in any state; exit 1 for an unknown id. */
export async function runJobShow(ctx: CliContext, id: string, options: JobIdOptions & { reveal?: boolean }): Promise<number> {
  const driver = await ctx.open(await ctx.connection(options.connection));
  const found = await lookupJob(driver, id, options.queue === undefined ? {} : { queue: options.queue });
  if (found === undefined) {
    throw new CliError(
      `no job with id ${quoteInput(id)}${options.queue === undefined ? '' : ` in queue ${options.queue}`} (it never existed, or it finished and is no longer kept)`,
    );
  }
  const info = printable(found, options.reveal);
  if (options.json === true) {
    ctx.out(json(jobJson(info)));
    return EXIT_OK;
  }
  const rows: [string, string][] = [
    ['id', info.id],
    ['queue', info.queue],
    ['name', info.name ?? '(undecodable)'],
    ['state', info.state + (info.deadLetterReason === undefined ? '' : ` (${info.deadLetterReason})`)],
    ['attempts', String(info.attempts)],
  ];
  if (info.envelope !== undefined) rows.push(['max attempts', String(info.envelope.maxAttempts)]);
  if (info.createdAt !== undefined) rows.push(['created at', formatTime(info.createdAt)]);
  if (info.availableAt !== undefined) rows.push(['available at', formatTime(info.availableAt)]);
  if (info.startedAt !== undefined) rows.push(['started at', formatTime(info.startedAt)]);
  if (info.finishedAt !== undefined) rows.push(['finished at', formatTime(info.finishedAt)]);
  if (info.lease !== undefined) rows.push(['lease', `held by ${info.lease.holder ?? 'unknown'} until ${formatTime(info.lease.expiresAt)}`]);
  if (info.progress !== undefined) rows.push(['progress', JSON.stringify(info.progress)]);
  if (info.envelope?.trace?.traceparent !== undefined) rows.push(['trace', info.envelope.trace.traceparent]);
  if (info.lastError !== undefined) rows.push(['error', `${info.lastError.name}: ${info.lastError.message}`]);
  const width = Math.max(...rows.map(([key]) => key.length));
  for (const [key, value] of rows) ctx.out(`${key.padEnd(width)}  ${value}`);
  if (info.state === 'completed') ctx.out(`\nresult:\n${json(info.result)}`);
  if (info.envelope !== undefined) ctx.out(`\npayload:\n${json(info.envelope.payload)}`);
  if (info.lastError?.stack !== undefined) ctx.out(`\nstack:\n${info.lastError.stack}`);
  return EXIT_OK;
}

/** `queue job cancel ID`: exit 1 for an unknown id; a job that already finished is left as it is. */
export async function runJobCancel(ctx: CliContext, id: string, options: JobIdOptions): Promise<number> {
  const driver = await ctx.open(await ctx.connection(options.connection));
  const outcome = await cancelJob(driver, id, options.queue === undefined ? {} : { queue: options.queue });
  if (options.json === true) ctx.out(JSON.stringify({ id, outcome }));
  else if (outcome === 'cancelled') ctx.out(`cancelled ${id}`);
  else if (outcome === 'finished') ctx.out(`job ${id} had already finished: nothing changed`);
  if (outcome === 'not-found') {
    if (options.json !== true) ctx.err(`no waiting, delayed or active job with id ${quoteInput(id)}`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

const STATES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled'];

/** `queue jobs list --queue Q --state S`. */
export async function runJobsList(
  ctx: CliContext,
  options: JobCommandOptions & { queue?: string; state?: string; limit?: number; offset?: number; reveal?: boolean },
): Promise<number> {
  if (options.queue === undefined) throw new CliError('jobs list: --queue is required');
  const state = (options.state ?? 'waiting') as JobState;
  if (!STATES.includes(state))
    throw new CliError(`jobs list: --state must be one of ${STATES.join(', ')}, got ${quoteInput(options.state)}`);
  const driver = await ctx.open(await ctx.connection(options.connection));
  const jobs = (
    await listJobs(driver, {
      queue: options.queue,
      state,
      limit: options.limit ?? 50,
      ...(options.offset === undefined ? {} : { offset: options.offset }),
    })
  ).map((info) => printable(info, options.reveal));
  if (options.json === true) {
    ctx.out(json({ queue: options.queue, state, jobs: jobs.map(jobJson) }));
    return EXIT_OK;
  }
  if (jobs.length === 0) {
    ctx.out(`no ${state} jobs on queue ${options.queue}`);
    return EXIT_OK;
  }
  const when = (info: JobInfo): number | undefined =>
    state === 'waiting' || state === 'delayed' ? info.availableAt : state === 'active' ? info.lease?.expiresAt : info.finishedAt;
  const whenHeader = {
    waiting: 'AVAILABLE',
    delayed: 'DUE',
    active: 'LEASE UNTIL',
    completed: 'FINISHED',
    failed: 'FAILED',
    cancelled: 'CANCELLED',
  }[state];
  ctx.out(
    renderTable(
      [
        { header: 'ID' },
        { header: 'NAME' },
        { header: 'ATTEMPTS', align: 'right' },
        { header: whenHeader },
        { header: state === 'completed' ? 'RESULT' : state === 'active' ? 'HOLDER / PROGRESS' : 'ERROR', maxWidth: 60 },
      ],
      jobs.map((info) => [
        info.id,
        info.name ?? '(undecodable)',
        String(info.attempts),
        formatTime(when(info)),
        state === 'completed'
          ? JSON.stringify(info.result ?? null)
          : state === 'active'
            ? `${info.lease?.holder ?? '?'}${info.progress === undefined ? '' : ` ${JSON.stringify(info.progress)}`}`
            : info.lastError === undefined
              ? ''
              : `${info.lastError.name}: ${info.lastError.message}`,
      ]),
    ),
  );
  if (jobs.length === (options.limit ?? 50)) ctx.out('(more may follow; use --limit and --offset)');
  return EXIT_OK;
}

/** `queue pause Q` / `queue resume Q`: for every worker of the connection's backend. */
export async function runPauseResume(ctx: CliContext, queue: string, paused: boolean, options: JobCommandOptions): Promise<number> {
  const driver = await ctx.open(await ctx.connection(options.connection));
  await (paused ? pauseQueue(driver, queue) : resumeQueue(driver, queue));
  const stats = await driver.stats(queue);
  if (options.json === true) ctx.out(JSON.stringify({ queue, paused: stats.paused ?? paused, ready: stats.ready }));
  else ctx.out(`${paused ? 'paused' : 'resumed'} queue ${queue} (${stats.ready} ready)`);
  return EXIT_OK;
}
