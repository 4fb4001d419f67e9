import {
  buildHealthReport,
  type ConnectionCheck,
  type ConnectionHealth,
  checkConnection,
  DEFAULT_PRESENCE_TTL_MS,
  type DriverCapabilities,
  describeError,
  type HealthReport,
  type HealthThresholds,
  type ScheduleStatus as LedgerScheduleStatus,
  scheduleStatuses as ledgerStatuses,
  type QueueStats,
  type ScheduleDefinition,
  Scheduler,
  withTimeout,
} from '@queuekit/core';
import type { DashboardOptions, DashboardSchedule } from './dashboard-options.js';
import type { QueueRates } from './job-rate-recorder.js';
import { retainedRates } from './retained-rates.js';

/** How bad a problem is, worst first. */
export type ProblemSeverity = 'unreachable' | 'degraded' | 'warning';

/** Something an operator should look at, listed first on the overview. */
export interface OverviewProblem {
  /** How bad it is. */
  readonly severity: ProblemSeverity;
  /** Connection it concerns. */
  readonly connection: string;
  /** Queue it concerns; null for the connection as a whole or a schedule. */
  readonly queue: string | null;
  /** What is wrong, in words. */
  readonly message: string;
}

/** A schedule with its last and next tick. */
export interface ScheduleStatus {
  /** Schedule name. */
  readonly name: string;
  /** Cron expression. */
  readonly cron: string;
  /** IANA time zone it is read in. */
  readonly timezone: string;
  /** Connection its ticks go to. */
  readonly connection: string;
  /**
   * The last tick: the last one fired, from the backend's schedule ledger (`lastTickFrom: 'ledger'`),
   * or the expression's tick before now where the ledger cannot be read (`'cron'`); null when the
   * expression is invalid or the ledger has no fired tick yet.
   */
  readonly lastTickAt: number | null;
  readonly lastTickFrom: 'ledger' | 'cron';
  /** State of the last fired tick's job, where the ledger and job lookups tell; null otherwise. */
  readonly lastOutcome: string | null;
  /** Why the ledger could not be read; null when it was, or was not tried. */
  readonly ledgerError: string | null;
  /** The tick after now (epoch ms); null when the expression is invalid. */
  readonly nextTickAt: number | null;
  /** Why the schedule cannot tick; null when it can. */
  readonly error: string | null;
}

/** Everything the overview shows; `/api/overview` serves it as JSON. */
export interface OverviewModel {
  /** The same document as `queue health --json` for the dashboard's connections and queues. */
  readonly health: HealthReport;
  /** Each queue's stats as the driver gave them (with `paused` and kept `completed` where declared), by connection and queue. */
  readonly stats: Readonly<Record<string, Readonly<Record<string, QueueStats>>>>;
  /** What each reachable connection's driver declares, by connection name. */
  readonly capabilities: Readonly<Record<string, DriverCapabilities>>;
  /**
   * Throughput and wait time by connection and queue (`source` says from where: the backend's
   * completed-job records, or this process's observed workers); a connection with neither is
   * absent, and the whole is null when none has either.
   */
  readonly rates: Readonly<Record<string, Readonly<Record<string, QueueRates>>>> | null;
  /** Schedules with their last and next tick. */
  readonly schedules: readonly ScheduleStatus[];
  /** Problems, worst first. */
  readonly problems: readonly OverviewProblem[];
}

const ORDER: Record<ProblemSeverity, number> = { unreachable: 0, degraded: 1, warning: 2 };

/** The queues the dashboard shows on `connection`. */
export function queuesOf(options: DashboardOptions, connection: string): readonly string[] {
  const queues = options.queues;
  if (queues === undefined) return ['default'];
  if (isList(queues)) return queues;
  return queues[connection] ?? ['default'];
}

function isList(value: DashboardOptions['queues']): value is readonly string[] {
  return Array.isArray(value);
}

/** The thresholds with unset ones as null. */
export function thresholdsOf(options: DashboardOptions): HealthThresholds {
  const t = options.thresholds ?? {};
  return {
    maxReady: t.maxReady ?? null,
    maxOldestAgeMs: t.maxOldestAgeMs ?? null,
    maxDead: t.maxDead ?? null,
    minWorkers: t.minWorkers ?? null,
  };
}

/** The health report of every connection of the manager, as `queue health` builds it. */
export async function collectHealth(options: DashboardOptions): Promise<HealthReport> {
  return buildHealthReport(
    (await checkAll(options)).map((c) => c.health),
    thresholdsOf(options),
  );
}

function checkAll(options: DashboardOptions): Promise<ConnectionCheck[]> {
  const { manager } = options;
  const thresholds = thresholdsOf(options);
  return Promise.all(
    manager.names().map((name) =>
      checkConnection({
        name,
        driver: manager.definition(name)?.driver ?? 'unknown',
        isDefault: name === manager.defaultConnection,
        open: () => manager.connection(name),
        queues: queuesOf(options, name),
        thresholds,
        timeoutMs: options.timeoutMs ?? 5_000,
        rateLimits: options.rateLimits ?? {},
        presenceTtlMs: options.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS,
      }),
    ),
  );
}

/** Gathers the overview: health, stats, capabilities, rates, schedules and the problems among them. */
export async function collectOverview(options: DashboardOptions, now = Date.now()): Promise<OverviewModel> {
  // Rates are read beside the health checks, not after them: a page waits for the slower of the two.
  const [checks, collected] = await Promise.all([checkAll(options), collectRates(options, now)]);
  const health = buildHealthReport(
    checks.map((c) => c.health),
    thresholdsOf(options),
    now,
  );
  const capabilities: Record<string, DriverCapabilities> = {};
  const stats: Record<string, Record<string, QueueStats>> = {};
  for (const check of checks) {
    const name = check.health.name;
    stats[name] = Object.fromEntries(check.stats.map((s) => [s.queue, s]));
    if (!check.health.reachable) continue;
    capabilities[name] = (await options.manager.connection(name)).capabilities;
  }
  const schedules = await scheduleStatuses(options, now);
  // A connection the health check found unreachable is listed once, as unreachable.
  const rateErrors = collected.errors.filter((p) => health.connections.some((c) => c.name === p.connection && c.reachable));
  const problems = [...findProblems(health.connections, stats, schedules), ...rateErrors];
  return {
    health,
    stats,
    capabilities,
    rates: collected.rates,
    schedules,
    problems: problems.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]),
  };
}

/**
 * Rates by connection and queue: from the completed-job records of drivers that keep them
 * (`capabilities.retention`), else from the recorder of this process's workers; null when no
 * connection has either. A connection whose rates cannot be read within `timeoutMs` has none,
 * and why is returned as a problem.
 */
async function collectRates(
  options: DashboardOptions,
  now: number,
): Promise<{ rates: Record<string, Record<string, QueueRates>> | null; errors: OverviewProblem[] }> {
  const rates: Record<string, Record<string, QueueRates>> = {};
  const errors: OverviewProblem[] = [];
  const timeoutMs = options.timeoutMs ?? 5_000;
  await Promise.all(
    options.manager.names().map(async (name) => {
      const queues = queuesOf(options, name);
      try {
        await withTimeout(
          (async () => {
            const driver = await options.manager.connection(name);
            if (driver.capabilities.retention) {
              const read = await Promise.all(queues.map((queue) => retainedRates(driver, queue, { now })));
              rates[name] = Object.fromEntries(queues.map((queue, i) => [queue, read[i] as QueueRates]));
            } else if (options.rates !== undefined) {
              const recorder = options.rates;
              rates[name] = Object.fromEntries(queues.map((queue) => [queue, recorder.rates(name, queue)]));
            }
          })(),
          timeoutMs,
          `${name}: reading rates`,
        );
      } catch (error) {
        // The counts still show; the rates of this connection are left out, and why is listed.
        errors.push({ severity: 'degraded', connection: name, queue: null, message: `rates: ${describeError(error)}` });
      }
    }),
  );
  return { rates: Object.keys(rates).length === 0 ? null : rates, errors };
}

/**
 * Last and next tick of each configured schedule. Schedules given with their job are read from the
 * ledger of fired ticks their backend keeps (core's scheduleStatuses, one read per connection,
 * within `timeoutMs`); the others, and those whose ledger cannot be read, show the expression's
 * tick before now.
 */
export async function scheduleStatuses(options: DashboardOptions, now = Date.now()): Promise<ScheduleStatus[]> {
  const schedules = options.schedules ?? [];
  const connectionOf = (schedule: DashboardSchedule) => schedule.connection ?? options.manager.defaultConnection;
  const fired = new Map<string, LedgerScheduleStatus>();
  const ledgerErrors = new Map<string, string>();
  const withJobs = new Map<string, ScheduleDefinition[]>();
  for (const schedule of schedules) {
    if (schedule.job === undefined) continue;
    const list = withJobs.get(connectionOf(schedule)) ?? [];
    list.push(schedule as ScheduleDefinition);
    withJobs.set(connectionOf(schedule), list);
  }
  await Promise.all(
    [...withJobs].map(async ([connection, list]) => {
      try {
        const driver = await options.manager.connection(connection);
        if (driver.createCoordinationStore === undefined) return;
        const statuses = await withTimeout(ledgerStatuses(driver, list), options.timeoutMs ?? 5_000, `schedule ledger of ${connection}`);
        for (const status of statuses) fired.set(status.name, status);
      } catch (error) {
        for (const schedule of list) ledgerErrors.set(schedule.name, describeError(error));
      }
    }),
  );
  return schedules.map((schedule) => {
    const base = { name: schedule.name, cron: schedule.cron, timezone: schedule.timezone ?? 'UTC', connection: connectionOf(schedule) };
    const ledgerError = ledgerErrors.get(schedule.name) ?? null;
    const status = fired.get(schedule.name);
    try {
      const nextTickAt = status?.nextTickAt ?? Scheduler.nextTick(schedule, now);
      if (status !== undefined) {
        const lastOutcome = status.lastOutcome ?? null;
        return {
          ...base,
          lastTickAt: status.lastTickAt ?? null,
          lastTickFrom: 'ledger' as const,
          lastOutcome,
          ledgerError,
          nextTickAt,
          error: null,
        };
      }
      const lastTickAt = Scheduler.previousTick(schedule, now);
      return { ...base, lastTickAt, lastTickFrom: 'cron' as const, lastOutcome: null, ledgerError, nextTickAt, error: null };
    } catch (error) {
      return {
        ...base,
        lastTickAt: null,
        lastTickFrom: 'cron' as const,
        lastOutcome: null,
        ledgerError,
        nextTickAt: null,
        error: describeError(error),
      };
    }
  });
}

function findProblems(
  connections: readonly ConnectionHealth[],
  stats: Readonly<Record<string, Readonly<Record<string, QueueStats>>>>,
  schedules: readonly ScheduleStatus[],
): OverviewProblem[] {
  const problems: OverviewProblem[] = [];
  for (const c of connections) {
    if (!c.reachable) {
      problems.push({ severity: 'unreachable', connection: c.name, queue: null, message: `unreachable: ${c.error ?? 'unknown error'}` });
      continue;
    }
    for (const message of c.problems) problems.push({ severity: 'degraded', connection: c.name, queue: null, message });
    for (const q of c.queues) {
      for (const message of q.problems) problems.push({ severity: 'degraded', connection: c.name, queue: q.name, message });
      // Worth a look even with no threshold set: work that nobody takes, and failures kept.
      if (stats[c.name]?.[q.name]?.paused === true) {
        problems.push({ severity: 'warning', connection: c.name, queue: q.name, message: 'paused: workers take no job from it' });
      } else if (q.ready > 0 && c.workers.count === 0) {
        problems.push({ severity: 'warning', connection: c.name, queue: q.name, message: `${q.ready} ready, no worker seen` });
      }
      if (q.dead > 0 && !q.problems.some((p) => p.startsWith('dead '))) {
        problems.push({
          severity: 'warning',
          connection: c.name,
          queue: q.name,
          message: `${q.dead} dead letter${q.dead === 1 ? '' : 's'}`,
        });
      }
    }
  }
  for (const s of schedules) {
    if (s.error !== null)
      problems.push({ severity: 'degraded', connection: s.connection, queue: null, message: `schedule ${s.name}: ${s.error}` });
    else if (connections.some((c) => c.name === s.connection && !c.reachable)) {
      problems.push({
        severity: 'degraded',
        connection: s.connection,
        queue: null,
        message: `schedule ${s.name}: its connection is unreachable`,
      });
    } else if (s.ledgerError !== null) {
      problems.push({
        severity: 'degraded',
        connection: s.connection,
        queue: null,
        message: `schedule ${s.name}: its fired ticks could not be read: ${s.ledgerError}`,
      });
    } else if (s.lastOutcome === 'failed' || s.lastOutcome === 'cancelled') {
      // The schedule runs, but the job of its last tick did not complete: worth a look before the next.
      problems.push({
        severity: 'warning',
        connection: s.connection,
        queue: null,
        message: `schedule ${s.name}: the job of its last tick ${s.lastOutcome === 'failed' ? 'failed (dead-lettered)' : 'was cancelled'}`,
      });
    }
  }
  return problems.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
}
