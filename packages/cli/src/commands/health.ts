import type { QueueDriver, QueueStats, RateLimitRule } from '@queuekit/core';
import { EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE } from '../cli-error.js';
import type { CliConnection } from '../config/config-types.js';
import { type CliContext, withTimeout } from '../context.js';
import { countWorkers, DEFAULT_PRESENCE_TTL_MS, supportsPresence } from '../heartbeat/worker-presence.js';
import { formatDuration, renderTable } from '../output/table.js';

/** Version of the `queue health --json` document; bumped on any incompatible change. */
export const HEALTH_SCHEMA_VERSION = 1;

/** Overall state, in increasing severity. */
export type HealthStatus = 'healthy' | 'degraded' | 'unreachable';

/** Rate-limit usage of a queue with a configured rule. */
export interface RateLimitUsage {
  readonly limit: number;
  readonly intervalMs: number;
  /** Tokens left in the bucket now; null when the backend keeps no shared bucket. */
  readonly available: number | null;
  /** `limit - available`; null when unknown. */
  readonly used: number | null;
  /** True when the bucket lives in the backend and is shared by every worker process. */
  readonly shared: boolean;
}

/** One queue in the health report. */
export interface QueueHealth {
  readonly name: string;
  readonly status: 'healthy' | 'degraded';
  readonly ready: number;
  readonly delayed: number;
  readonly reserved: number;
  readonly dead: number;
  /** Claims from the queue are paused (`queue pause`); null when the driver cannot pause queues. */
  readonly paused: boolean | null;
  /** Completed jobs the driver keeps (retention); null when it keeps none. */
  readonly completed: number | null;
  /** Epoch ms at which the oldest ready job became available; null when none is ready. */
  readonly oldestReadyAt: number | null;
  /** How long the oldest ready job has waited, in ms; null when none is ready. */
  readonly oldestReadyAgeMs: number | null;
  readonly rateLimit: RateLimitUsage | null;
  /** Thresholds this queue exceeds, in words. */
  readonly problems: readonly string[];
}

/** Workers seen on a connection. */
export interface WorkersHealth {
  /** `queue work` processes alive within the presence TTL; null when the backend cannot tell. */
  readonly count: number | null;
  readonly presenceTtlMs: number | null;
  /** Why the count is null, when it is. */
  readonly note: string | null;
}

/** One connection in the health report. */
export interface ConnectionHealth {
  readonly name: string;
  readonly driver: string;
  readonly default: boolean;
  readonly status: HealthStatus;
  readonly reachable: boolean;
  /** Round trip of one ping, in ms; null when unreachable. */
  readonly pingMs: number | null;
  /** Why it is unreachable; null otherwise. */
  readonly error: string | null;
  readonly workers: WorkersHealth;
  readonly queues: readonly QueueHealth[];
  /** Connection-level thresholds exceeded (e.g. too few workers). */
  readonly problems: readonly string[];
}

/** Thresholds applied; null when not set. */
export interface HealthThresholds {
  readonly maxReady: number | null;
  readonly maxOldestAgeMs: number | null;
  readonly maxDead: number | null;
  readonly minWorkers: number | null;
}

/** The document `queue health --json` prints (schema/health.schema.json). */
export interface HealthReport {
  readonly schemaVersion: typeof HEALTH_SCHEMA_VERSION;
  readonly status: HealthStatus;
  /** The process exit code: 0 healthy, 1 degraded, 2 unreachable. */
  readonly exitCode: 0 | 1 | 2;
  /** When the check ran, ISO 8601 UTC. */
  readonly checkedAt: string;
  readonly thresholds: HealthThresholds;
  readonly connections: readonly ConnectionHealth[];
}

/** Flags of `queue health`. */
export interface HealthOptions {
  readonly json?: boolean;
  readonly connection?: readonly string[];
  readonly queue?: readonly string[];
  readonly maxReady?: number;
  readonly maxOldestAge?: number;
  readonly maxDead?: number;
  readonly minWorkers?: number;
  readonly timeout?: number;
}

const SEVERITY: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unreachable: 2 };

const messageOf = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error && !error.message.includes(error.cause.message) ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
};

/** Runs `queue health`; returns the exit code. */
export async function runHealth(ctx: CliContext, options: HealthOptions): Promise<number> {
  const report = await collectHealth(ctx, options);
  if (options.json === true) ctx.out(JSON.stringify(report, null, 2));
  else ctx.out(renderHealth(report));
  return report.exitCode;
}

/** Checks every selected connection and queue and builds the report. */
export async function collectHealth(ctx: CliContext, options: HealthOptions): Promise<HealthReport> {
  const config = await ctx.config();
  const names = options.connection !== undefined && options.connection.length > 0 ? options.connection : [...config.connections.keys()];
  const connections = await Promise.all(names.map((name) => ctx.connection(name)));
  const thresholds: HealthThresholds = {
    maxReady: options.maxReady ?? config.health.maxReady ?? null,
    maxOldestAgeMs: options.maxOldestAge !== undefined ? options.maxOldestAge * 1_000 : (config.health.maxOldestAgeMs ?? null),
    maxDead: options.maxDead ?? config.health.maxDead ?? null,
    minWorkers: options.minWorkers ?? config.health.minWorkers ?? null,
  };
  const timeoutMs = options.timeout !== undefined ? options.timeout * 1_000 : (config.health.timeoutMs ?? 5_000);
  const results = await Promise.all(
    connections.map(async (connection) => {
      const queues = await ctx.queuesFor(connection, options.queue);
      return checkConnection(ctx, connection, {
        queues,
        thresholds,
        timeoutMs,
        isDefault: connection.name === config.defaultConnection,
        rateLimits: config.rateLimits,
        presenceTtlMs: config.worker.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS,
      });
    }),
  );
  const status = results.reduce<HealthStatus>((worst, c) => (SEVERITY[c.status] > SEVERITY[worst] ? c.status : worst), 'healthy');
  return {
    schemaVersion: HEALTH_SCHEMA_VERSION,
    status,
    exitCode: status === 'unreachable' ? EXIT_UNREACHABLE : status === 'degraded' ? EXIT_FAILURE : EXIT_OK,
    checkedAt: new Date().toISOString(),
    thresholds,
    connections: results,
  };
}

interface CheckOptions {
  readonly queues: readonly string[];
  readonly thresholds: HealthThresholds;
  readonly timeoutMs: number;
  readonly isDefault: boolean;
  readonly rateLimits: Readonly<Record<string, RateLimitRule>>;
  readonly presenceTtlMs: number;
}

async function checkConnection(ctx: CliContext, connection: CliConnection, options: CheckOptions): Promise<ConnectionHealth> {
  const base = { name: connection.name, driver: connection.driver, default: options.isDefault };
  const unreachable = (error: unknown): ConnectionHealth => ({
    ...base,
    status: 'unreachable',
    reachable: false,
    pingMs: null,
    error: messageOf(error),
    workers: { count: null, presenceTtlMs: null, note: 'connection unreachable' },
    queues: [],
    problems: [],
  });
  let driver: QueueDriver | undefined;
  let pingMs: number;
  let stats: QueueStats[];
  try {
    const opened = await withTimeout(ctx.open(connection), options.timeoutMs, `connecting to ${connection.name}`);
    driver = opened;
    pingMs = await withTimeout(opened.ping(), options.timeoutMs, `ping of ${connection.name}`);
    stats = await withTimeout(
      Promise.all(options.queues.map((queue) => opened.stats(queue))),
      options.timeoutMs,
      `stats of ${connection.name}`,
    );
  } catch (error) {
    if (driver !== undefined) ctx.discard(driver);
    return unreachable(error);
  }
  const now = Date.now();
  const rateStore = Object.keys(options.rateLimits).some((queue) => options.queues.includes(queue))
    ? await connection.rateLimitStore(driver).catch(() => undefined)
    : undefined;
  const queues: QueueHealth[] = [];
  for (const s of stats) {
    const problems: string[] = [];
    const age = s.oldestReadyAt === undefined ? null : Math.max(0, now - s.oldestReadyAt);
    const t = options.thresholds;
    if (t.maxReady !== null && s.ready > t.maxReady) problems.push(`ready ${s.ready} > max ${t.maxReady}`);
    if (t.maxOldestAgeMs !== null && age !== null && age > t.maxOldestAgeMs) {
      problems.push(`oldest ready ${formatDuration(age)} > max ${formatDuration(t.maxOldestAgeMs)}`);
    }
    if (t.maxDead !== null && s.dead > t.maxDead) problems.push(`dead ${s.dead} > max ${t.maxDead}`);
    const rule = options.rateLimits[s.queue];
    let rateLimit: RateLimitUsage | null = null;
    if (rule !== undefined) {
      const available = rateStore === undefined ? null : await rateStore.peek(s.queue, rule).catch(() => null);
      rateLimit = {
        limit: rule.limit,
        intervalMs: rule.intervalMs,
        available,
        used: available === null ? null : Math.max(0, rule.limit - available),
        shared: rateStore !== undefined,
      };
    }
    queues.push({
      name: s.queue,
      status: problems.length > 0 ? 'degraded' : 'healthy',
      ready: s.ready,
      delayed: s.delayed,
      reserved: s.reserved,
      dead: s.dead,
      paused: s.paused ?? null,
      completed: s.completed ?? null,
      oldestReadyAt: s.oldestReadyAt ?? null,
      oldestReadyAgeMs: age,
      rateLimit,
      problems,
    });
  }
  let workers: WorkersHealth;
  if (!supportsPresence(driver)) {
    workers = {
      count: null,
      presenceTtlMs: null,
      note: `the ${driver.name} driver runs jobs inline or holds no leases; workers cannot be counted`,
    };
  } else {
    try {
      const count = await withTimeout(countWorkers(driver), options.timeoutMs, `worker count of ${connection.name}`);
      workers = { count, presenceTtlMs: options.presenceTtlMs, note: null };
    } catch (error) {
      workers = { count: null, presenceTtlMs: options.presenceTtlMs, note: `counting workers failed: ${messageOf(error)}` };
    }
  }
  const problems: string[] = [];
  const minWorkers = options.thresholds.minWorkers;
  if (minWorkers !== null && workers.count !== null && workers.count < minWorkers) {
    problems.push(`workers ${workers.count} < min ${minWorkers}`);
  }
  const degraded = problems.length > 0 || queues.some((q) => q.status === 'degraded');
  return {
    ...base,
    status: degraded ? 'degraded' : 'healthy',
    reachable: true,
    pingMs: Math.round(pingMs * 100) / 100,
    error: null,
    workers,
    queues,
    problems,
  };
}

/** The report as tables for people. */
export function renderHealth(report: HealthReport): string {
  const lines: string[] = [];
  for (const c of report.connections) {
    const workers = c.workers.count === null ? 'unknown' : String(c.workers.count);
    const head = c.reachable
      ? `${c.name} (${c.driver})${c.default ? ' [default]' : ''}: ${c.status}, ping ${c.pingMs}ms, workers ${workers}`
      : `${c.name} (${c.driver})${c.default ? ' [default]' : ''}: unreachable: ${c.error}`;
    lines.push(head);
    for (const problem of c.problems) lines.push(`  ! ${problem}`);
    if (c.queues.length > 0) {
      const table = renderTable(
        [
          { header: 'QUEUE' },
          { header: 'READY', align: 'right' },
          { header: 'DELAYED', align: 'right' },
          { header: 'RESERVED', align: 'right' },
          { header: 'DEAD', align: 'right' },
          { header: 'OLDEST', align: 'right' },
          { header: 'RATE', align: 'right' },
          { header: 'STATUS' },
        ],
        c.queues.map((q) => [
          q.name,
          String(q.ready),
          String(q.delayed),
          String(q.reserved),
          String(q.dead),
          q.oldestReadyAgeMs === null ? '-' : formatDuration(q.oldestReadyAgeMs),
          q.rateLimit === null ? '-' : `${q.rateLimit.used ?? '?'}/${q.rateLimit.limit} per ${formatDuration(q.rateLimit.intervalMs)}`,
          `${q.problems.length > 0 ? `degraded: ${q.problems.join('; ')}` : q.status}${q.paused === true ? ', paused' : ''}`,
        ]),
      );
      lines.push(...table.split('\n').map((line) => `  ${line}`));
    }
    lines.push('');
  }
  lines.push(`status: ${report.status} (exit ${report.exitCode})`);
  return lines.join('\n');
}
