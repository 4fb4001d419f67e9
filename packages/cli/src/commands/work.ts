import {
  createLogger,
  DEFAULT_PRESENCE_TTL_MS,
  formatDuration,
  maskSensitiveText,
  type StopReason,
  supportsPresence,
  Worker,
  type WorkerOptions,
  WorkerPresence,
  withTimeout,
} from '@queuekit/core';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { DEFAULT_STATUS_INTERVAL_MS, startStatusLine, type WorkCounts } from './work-status.js';

/** Flags of `queue work`. */
export interface WorkOptions {
  readonly connection?: string;
  readonly queue?: readonly string[];
  readonly concurrency?: number;
  /** The Worker's groups.concurrency: jobs of one group leased at once across every worker. */
  readonly groupConcurrency?: number;
  readonly maxJobs?: number;
  /** Seconds. */
  readonly maxTime?: number;
  /** MiB. */
  readonly memory?: number;
  readonly once?: boolean;
  readonly json?: boolean;
  /** Seconds between status lines; 0 turns them off. Default: 5 when stdout is a terminal, else off. */
  readonly status?: number;
}

/** Counts for the status and summary lines. */
interface Tally extends WorkCounts {
  /** Failed runs released for another attempt (a job retried twice counts twice here, once as a job). */
  retried: number;
  deadLettered: number;
  released: number;
  /** Jobs cancelled while they ran here. */
  cancelled: number;
}

/** How long the backend may take to answer the first ping, in ms. */
const STARTUP_PING_TIMEOUT_MS = 10_000;

/** How long a reserve waits when draining (`--once`), in ms: short, so an empty queue ends the run soon. */
const DRAIN_WAIT_MS = 200;

/** Runs `queue work`: a Worker over the configured handlers until a signal, a limit, or (with --once) an empty queue. */
export async function runWork(ctx: CliContext, options: WorkOptions): Promise<number> {
  const config = await ctx.config();
  const connection = await ctx.connection(options.connection);
  const queues = await ctx.queuesFor(connection, options.queue);
  const jobs = await config.loadJobs();
  if (jobs.length === 0) throw new CliError(`${config.file}: jobs: no job definitions configured, so there is nothing to run`);
  const driver = await ctx.open(connection);
  if (driver.capabilities.inline) {
    throw new CliError(
      `connection ${connection.name} uses the ${driver.name} driver, which runs each job when it is pushed; there is nothing to work`,
    );
  }
  // Fail fast on a backend that is down at start; later errors are retried by the worker.
  try {
    await withTimeout(driver.ping(), STARTUP_PING_TIMEOUT_MS, 'ping');
  } catch (error) {
    throw new CliError(`connection ${connection.name} (${driver.name}) is unreachable: ${(error as Error).message}`, EXIT_UNREACHABLE, {
      cause: error,
    });
  }
  const w = config.worker;
  const rateRules = Object.fromEntries(Object.entries(config.rateLimits).filter(([queue]) => queues.includes(queue)));
  // Only the budgets that cover a queue this worker serves; each keeps its whole queue list.
  const limits = Object.fromEntries(
    Object.entries(config.sharedRateLimits).filter(([, budget]) => budget.queues.some((queue) => queues.includes(queue))),
  );
  let rateLimit: WorkerOptions['rateLimit'];
  if (Object.keys(rateRules).length > 0 || Object.keys(limits).length > 0) {
    let store = await connection.rateLimitStore(driver);
    if (store === undefined) {
      ctx.err(`warning: the ${driver.name} driver keeps no shared rate-limit buckets; limits hold within this process only`);
      const { MemoryRateLimitStore } = await import('@queuekit/core');
      store = new MemoryRateLimitStore();
    }
    rateLimit = { store, queues: rateRules, limits };
  }
  const maxJobs = options.maxJobs ?? w.maxJobs;
  const maxRuntimeMs = options.maxTime !== undefined ? options.maxTime * 1_000 : w.maxRuntimeMs;
  const maxMemoryMb = options.memory ?? w.maxMemoryMb;
  const once = options.once === true;
  const groupConcurrency = options.groupConcurrency ?? w.groupConcurrency;
  const worker = new Worker({
    driver,
    jobs,
    queues,
    concurrency: options.concurrency ?? w.concurrency ?? 1,
    handleSignals: true,
    logger: createLogger({ level: w.logLevel ?? 'warn' }),
    ...(w.leaseMs === undefined ? {} : { leaseMs: w.leaseMs }),
    ...(w.heartbeatMs === undefined ? {} : { heartbeatMs: w.heartbeatMs }),
    ...(once
      ? { waitMs: Math.min(w.waitMs ?? DRAIN_WAIT_MS, DRAIN_WAIT_MS), stopWhenEmpty: true }
      : w.waitMs === undefined
        ? {}
        : { waitMs: w.waitMs }),
    ...(w.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: w.shutdownGraceMs }),
    ...(w.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: w.defaultTimeoutMs }),
    ...(w.maxSettling === undefined ? {} : { maxSettling: w.maxSettling }),
    ...(w.maxLostDeliveries === undefined ? {} : { maxLostDeliveries: w.maxLostDeliveries }),
    ...(w.prefetch === undefined ? {} : { prefetch: w.prefetch }),
    ...(maxJobs === undefined ? {} : { maxJobs }),
    ...(maxRuntimeMs === undefined ? {} : { maxRuntimeMs }),
    ...(maxMemoryMb === undefined ? {} : { maxMemoryMb }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
    ...(groupConcurrency === undefined ? {} : { groups: { concurrency: groupConcurrency } }),
  });

  const tally: Tally = { completed: 0, failed: 0, retried: 0, deadLettered: 0, released: 0, cancelled: 0 };
  // Jobs whose last outcome here was a retry: each counts as one job until it settles here for good.
  const awaitingRetry = new Set<string>();
  const failedAfterMs = new Map<string, number>();
  const line = (fields: Record<string, unknown>, text: string) => ctx.out(options.json === true ? JSON.stringify(fields) : text);
  const jobLine = (
    e: { id: string; name: string | undefined; queue: string; attempt: number },
    outcome: string,
    durationMs: number | undefined,
    detail = '',
  ) => {
    const time = new Date().toISOString();
    const duration = durationMs === undefined ? '-' : formatDuration(durationMs);
    // The detail quotes a job's error message, which may carry a secret.
    const safeDetail = maskSensitiveText(detail);
    line(
      {
        time,
        event: 'job',
        name: e.name ?? null,
        id: e.id,
        queue: e.queue,
        attempt: e.attempt,
        outcome,
        durationMs: durationMs ?? null,
        detail: safeDetail || null,
      },
      `${time}  ${e.name ?? '(undecodable)'}  ${e.id}  ${outcome}  ${duration}${safeDetail === '' ? '' : `  ${safeDetail}`}`,
    );
  };
  worker.on('completed', (e) => {
    tally.completed += 1;
    awaitingRetry.delete(e.id);
    jobLine(e, 'completed', e.durationMs);
  });
  worker.on('failed', (e) => {
    tally.failed += 1;
    failedAfterMs.set(e.id, e.durationMs);
  });
  worker.on('retrying', (e) => {
    tally.retried += 1;
    awaitingRetry.add(e.id);
    const duration = failedAfterMs.get(e.id);
    failedAfterMs.delete(e.id);
    jobLine(e, 'retrying', duration, `attempt ${e.attempt} failed, next in ${formatDuration(e.delayMs)}: ${e.error.message}`);
  });
  worker.on('dead-lettered', (e) => {
    tally.deadLettered += 1;
    awaitingRetry.delete(e.id);
    const duration = failedAfterMs.get(e.id);
    failedAfterMs.delete(e.id);
    jobLine(e, 'dead-lettered', duration, `${e.reason}: ${e.error.message}`);
  });
  worker.on('released', (e) => {
    tally.released += 1;
    awaitingRetry.delete(e.id);
    jobLine(e, 'released', undefined, 'unfinished at shutdown');
  });
  worker.on('cancelled', (e) => {
    tally.cancelled += 1;
    awaitingRetry.delete(e.id);
    jobLine(e, 'cancelled', undefined, 'cancelled while it ran');
  });
  // Handed back unrun by a middleware (rate limit, lock, open circuit): it runs later, uncounted.
  worker.on('postponed', (e) => jobLine(e, 'postponed', undefined, `next in ${formatDuration(e.delayMs)}: ${e.reason}`));
  let failed = false;
  worker.on('error', ({ error, during }) => {
    ctx.err(`${new Date().toISOString()}  worker error during ${during}: ${error.message}`);
    // A drain that cannot reserve would otherwise retry forever; a long-running worker rides it out.
    if (once && !failed) {
      failed = true;
      void worker.stop();
    }
  });
  let stopReason: StopReason = 'requested';
  worker.on('stopped', ({ reason }) => {
    stopReason = reason;
  });
  // A signal during the drain should be answered at once, not after the current reserve wait.
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // A second signal means: do not wait. Jobs in flight are not acknowledged; their leases run out and they are delivered again.
      ctx.err(`${new Date().toISOString()}  ${signal} again: exiting without waiting for ${worker.inFlight} job(s) in flight`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    ctx.err(`${new Date().toISOString()}  ${signal} received: finishing ${worker.inFlight} job(s) in flight, taking no more`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const presence = supportsPresence(driver)
    ? new WorkerPresence(driver, {
        ttlMs: w.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS,
        onError: (error) => ctx.err(`${new Date().toISOString()}  worker presence: ${error.message}`),
      })
    : undefined;
  await presence?.start(queues);
  const startedAt = Date.now();
  line(
    {
      time: new Date(startedAt).toISOString(),
      event: 'started',
      connection: connection.name,
      driver: driver.name,
      queues,
      concurrency: worker.concurrency,
      pid: process.pid,
    },
    `worker started: connection ${connection.name} (${driver.name}), queues ${queues.join(', ')}, concurrency ${worker.concurrency}, pid ${process.pid}${once ? ', draining once' : ''}`,
  );
  const statusMs = options.status !== undefined ? options.status * 1_000 : ctx.io.terminal === true ? DEFAULT_STATUS_INTERVAL_MS : 0;
  const stopStatus =
    statusMs > 0
      ? startStatusLine({
          driver,
          queues,
          counts: tally,
          active: () => worker.inFlight,
          intervalMs: statusMs,
          write: line,
          onError: (error) => ctx.err(`${new Date().toISOString()}  status: ${error.message}`),
        })
      : undefined;
  // maxRuntimeMs is checked between reserves; this timer also ends a long blocking wait.
  const runtimeTimer = maxRuntimeMs === undefined ? undefined : setTimeout(() => void worker.stop({ reason: 'max-runtime' }), maxRuntimeMs);
  try {
    // A signal while announcing presence means: do not start at all.
    if (signals === 0) await worker.run();
    else stopReason = 'signal';
  } finally {
    if (runtimeTimer !== undefined) clearTimeout(runtimeTimer);
    stopStatus?.();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await presence?.stop();
  }
  // A job counts once however many runs it took: retries are counted apart.
  const jobCount = tally.completed + tally.deadLettered + tally.released + tally.cancelled + awaitingRetry.size;
  const elapsedMs = Date.now() - startedAt;
  line(
    {
      time: new Date().toISOString(),
      event: 'stopped',
      reason: stopReason,
      jobs: jobCount,
      ...tally,
      awaitingRetry: awaitingRetry.size,
      elapsedMs,
    },
    `worker stopped (${stopReason}): ${jobCount} job(s) in ${formatDuration(elapsedMs)}: ${tally.completed} completed, ${tally.deadLettered} dead-lettered, ${tally.released} released, ${tally.cancelled > 0 ? `${tally.cancelled} cancelled, ` : ''}${awaitingRetry.size} awaiting a retry; ${tally.retried} retried run(s)`,
  );
  if (failed) {
    ctx.err('work --once: stopped after a driver error; the queue may not be drained');
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}
