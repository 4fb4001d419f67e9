import type { QueueDriver, QueueStats } from '../driver/queue-driver.js';
import type { RateLimitRule } from '../rate-limit/rate-limit-store.js';
import { formatDuration } from './format-duration.js';
import { withTimeout } from './with-timeout.js';
import { countWorkers, supportsPresence } from './worker-presence.js';

/** Version of the health document (`queue health --json`, the dashboard's `/api/health`); bumped on any incompatible change. */
export const HEALTH_SCHEMA_VERSION = 1;

/** Overall state, in increasing severity. */
export type HealthStatus = 'healthy' | 'degraded' | 'unreachable';

/** Rate-limit usage of a queue with a configured rule. */
export interface RateLimitUsage {
  /** Jobs allowed per interval. */
  readonly limit: number;
  /** The interval of the rule, in ms. */
  readonly intervalMs: number;
  /** Tokens left in the bucket now; null when the backend keeps no shared bucket. */
  readonly available: number | null;
  /** `limit - available`; null when unknown. */
  readonly used: number | null;
  /** True when the bucket lives in the backend and is shared by every worker process. */
  readonly shared: boolean;
}

/** A queue's counts as JSON (`queue stats --json`, the health document's queues): what a driver does not report is null. */
export interface QueueCountsJson {
  /** Jobs available now. */
  readonly ready: number;
  /** Jobs waiting for their time. */
  readonly delayed: number;
  /** Jobs leased by a worker. */
  readonly reserved: number;
  /** Dead letters of this queue. */
  readonly dead: number;
  /** Claims from the queue are paused (`queue pause`); null when the driver cannot pause queues. */
  readonly paused: boolean | null;
  /** Completed jobs the driver keeps (retention); null when it keeps none. */
  readonly completed: number | null;
  /** Epoch ms at which the oldest ready job became available; null when none is ready. */
  readonly oldestReadyAt: number | null;
  /** How long the oldest ready job has waited, in ms; null when none is ready. */
  readonly oldestReadyAgeMs: number | null;
}

/** {@link QueueCountsJson} of a queue's stats, its oldest ready job's age taken at `now` (epoch ms). */
export function queueCountsJson(stats: QueueStats, now: number): QueueCountsJson {
  return {
    ready: stats.ready,
    delayed: stats.delayed,
    reserved: stats.reserved,
    dead: stats.dead,
    paused: stats.paused ?? null,
    completed: stats.completed ?? null,
    oldestReadyAt: stats.oldestReadyAt ?? null,
    oldestReadyAgeMs: stats.oldestReadyAt === undefined ? null : Math.max(0, now - stats.oldestReadyAt),
  };
}

/** One queue in the health report. */
export interface QueueHealth extends QueueCountsJson {
  /** Queue name. */
  readonly name: string;
  /** `degraded` when it exceeds a threshold (see `problems`). */
  readonly status: 'healthy' | 'degraded';
  /** Rate-limit usage; null when no rule is configured for the queue. */
  readonly rateLimit: RateLimitUsage | null;
  /** Thresholds this queue exceeds, in words. */
  readonly problems: readonly string[];
}

/** Workers seen on a connection. */
export interface WorkersHealth {
  /** `queue work` processes alive within the presence TTL; null when the backend cannot tell. */
  readonly count: number | null;
  /** Lifetime of a presence heartbeat, in ms; null when workers are not counted. */
  readonly presenceTtlMs: number | null;
  /** Why the count is null, when it is. */
  readonly note: string | null;
}

/** One connection in the health report. */
export interface ConnectionHealth {
  /** Connection name. */
  readonly name: string;
  /** Driver name (`redis`, `postgres`, …). */
  readonly driver: string;
  /** True for the default connection. */
  readonly default: boolean;
  /** Worst state of the connection and its queues. */
  readonly status: HealthStatus;
  /** False when connecting, the ping or the counts failed or timed out. */
  readonly reachable: boolean;
  /** Round trip of one ping, in ms; null when unreachable. */
  readonly pingMs: number | null;
  /** Why it is unreachable; null otherwise. */
  readonly error: string | null;
  /** Workers seen. */
  readonly workers: WorkersHealth;
  /** Queues checked, in the order asked. */
  readonly queues: readonly QueueHealth[];
  /** Connection-level thresholds exceeded (e.g. too few workers). */
  readonly problems: readonly string[];
}

/** Thresholds applied; null when not set. */
export interface HealthThresholds {
  /** Degraded when a queue has more ready jobs. */
  readonly maxReady: number | null;
  /** Degraded when a queue's oldest ready job waited longer, in ms. */
  readonly maxOldestAgeMs: number | null;
  /** Degraded when a queue has more dead letters. */
  readonly maxDead: number | null;
  /** Degraded when fewer workers were seen on a connection. */
  readonly minWorkers: number | null;
}

/** The health document (`queue health --json`, schema in `@queuekit/cli/health.schema.json`). */
export interface HealthReport {
  /** Always {@link HEALTH_SCHEMA_VERSION}. */
  readonly schemaVersion: typeof HEALTH_SCHEMA_VERSION;
  /** Worst state over every connection. */
  readonly status: HealthStatus;
  /** The process exit code of `queue health`: 0 healthy, 1 degraded, 2 unreachable. */
  readonly exitCode: 0 | 1 | 2;
  /** When the check ran, ISO 8601 UTC. */
  readonly checkedAt: string;
  /** Thresholds applied. */
  readonly thresholds: HealthThresholds;
  /** One entry per connection checked. */
  readonly connections: readonly ConnectionHealth[];
}

/** What {@link checkConnectionHealth} checks on one connection. */
export interface ConnectionHealthOptions {
  /** Connection name. */
  readonly name: string;
  /** Driver name as configured, reported even when the connection cannot be opened. */
  readonly driver: string;
  /** True for the default connection. */
  readonly isDefault: boolean;
  /** Opens (or returns the cached) driver of the connection. */
  readonly open: () => Promise<QueueDriver>;
  /** Called with a driver that opened but then failed (e.g. to close it without waiting). */
  readonly discard?: (driver: QueueDriver) => void;
  /** Queues to count. */
  readonly queues: readonly string[];
  /** Thresholds that make a queue or the connection degraded. */
  readonly thresholds: HealthThresholds;
  /** Longest each step (open, ping, counts, worker count) may take, in ms. */
  readonly timeoutMs: number;
  /** Rate-limit rules by queue name. */
  readonly rateLimits: Readonly<Record<string, RateLimitRule>>;
  /** Lifetime of a worker presence heartbeat, in ms (reported with the worker count). */
  readonly presenceTtlMs: number;
}

const SEVERITY: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unreachable: 2 };

/** An error's message with its cause's appended when the message does not already hold it. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error && !error.message.includes(error.cause.message) ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/**
 * Checks one connection: ping, the counts of each queue against the thresholds, rate-limit usage
 * and the workers seen. Never throws: an unreachable connection is reported as such.
 */
export async function checkConnectionHealth(options: ConnectionHealthOptions): Promise<ConnectionHealth> {
  return (await checkConnection(options)).health;
}

/** What {@link checkConnection} found: the health entry, and the queues' stats as the driver gave them (empty when unreachable). */
export interface ConnectionCheck {
  /** The connection's entry of the health report. */
  readonly health: ConnectionHealth;
  /** Each queue's stats, in the order of `options.queues` (with what the health entry leaves out, e.g. `paused`). */
  readonly stats: readonly QueueStats[];
}

/** {@link checkConnectionHealth}, also handing back the stats it read, for callers that show more of them. */
export async function checkConnection(options: ConnectionHealthOptions): Promise<ConnectionCheck> {
  const base = { name: options.name, driver: options.driver, default: options.isDefault };
  let driver: QueueDriver | undefined;
  let pingMs: number;
  let stats: QueueStats[];
  let workersCheck: Promise<WorkersHealth> | undefined;
  try {
    const opened = await withTimeout(options.open(), options.timeoutMs, `connecting to ${options.name}`);
    driver = opened;
    pingMs = await withTimeout(opened.ping(), options.timeoutMs, `ping of ${options.name}`);
    // The worker count runs beside the queue counts: on a large backend both take a while.
    workersCheck = checkWorkers(opened, options);
    stats = await withTimeout(
      Promise.all(options.queues.map((queue) => opened.stats(queue))),
      options.timeoutMs,
      `stats of ${options.name}`,
    );
  } catch (error) {
    // checkWorkers never rejects; wait for it so nothing runs on a driver being discarded.
    await workersCheck;
    if (driver !== undefined) options.discard?.(driver);
    const health: ConnectionHealth = {
      ...base,
      status: 'unreachable',
      reachable: false,
      pingMs: null,
      error: describeError(error),
      workers: { count: null, presenceTtlMs: null, note: 'connection unreachable' },
      queues: [],
      problems: [],
    };
    return { health, stats: [] };
  }
  const now = Date.now();
  const rateStore = Object.keys(options.rateLimits).some((queue) => options.queues.includes(queue))
    ? driver.createRateLimitStore?.()
    : undefined;
  const t = options.thresholds;
  const queues: QueueHealth[] = [];
  for (const s of stats) {
    const problems: string[] = [];
    const counts = queueCountsJson(s, now);
    const age = counts.oldestReadyAgeMs;
    if (t.maxReady !== null && s.ready > t.maxReady) problems.push(`ready ${s.ready} > max ${t.maxReady}`);
    if (t.maxOldestAgeMs !== null && age !== null && age > t.maxOldestAgeMs) {
      problems.push(`oldest ready ${formatDuration(age)} > max ${formatDuration(t.maxOldestAgeMs)}`);
    }
    if (t.maxDead !== null && s.dead > t.maxDead) problems.push(`dead ${s.dead} > max ${t.maxDead}`);
    const rule = options.rateLimits[s.queue];
    let rateLimit: RateLimitUsage | null = null;
    if (rule !== undefined) {
      // A failed peek leaves usage unknown (null) rather than failing the whole check.
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
      ...counts,
      rateLimit,
      problems,
    });
  }
  const workers = await (workersCheck ?? checkWorkers(driver, options));
  const problems: string[] = [];
  if (t.minWorkers !== null && workers.count !== null && workers.count < t.minWorkers) {
    problems.push(`workers ${workers.count} < min ${t.minWorkers}`);
  }
  const degraded = problems.length > 0 || queues.some((q) => q.status === 'degraded');
  const health: ConnectionHealth = {
    ...base,
    status: degraded ? 'degraded' : 'healthy',
    reachable: true,
    pingMs: Math.round(pingMs * 100) / 100,
    error: null,
    workers,
    queues,
    problems,
  };
  return { health, stats };
}

async function checkWorkers(driver: QueueDriver, options: ConnectionHealthOptions): Promise<WorkersHealth> {
  if (!supportsPresence(driver)) {
    return {
      count: null,
      presenceTtlMs: null,
      note: `the ${driver.name} driver runs jobs inline or holds no leases; workers cannot be counted`,
    };
  }
  try {
    const count = await withTimeout(countWorkers(driver), options.timeoutMs, `worker count of ${options.name}`);
    return { count, presenceTtlMs: options.presenceTtlMs, note: null };
  } catch (error) {
    return { count: null, presenceTtlMs: options.presenceTtlMs, note: `counting workers failed: ${describeError(error)}` };
  }
}

/** The report over checked connections: the worst status and the matching exit code. */
export function buildHealthReport(connections: readonly ConnectionHealth[], thresholds: HealthThresholds, now = Date.now()): HealthReport {
  const status = connections.reduce<HealthStatus>((worst, c) => (SEVERITY[c.status] > SEVERITY[worst] ? c.status : worst), 'healthy');
  return {
    schemaVersion: HEALTH_SCHEMA_VERSION,
    status,
    exitCode: status === 'unreachable' ? 2 : status === 'degraded' ? 1 : 0,
    checkedAt: new Date(now).toISOString(),
    thresholds,
    connections,
  };
}
