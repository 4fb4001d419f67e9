import {
  buildHealthReport,
  checkConnectionHealth,
  DEFAULT_PRESENCE_TTL_MS,
  formatDuration,
  type HealthReport,
  type HealthThresholds,
} from '@queuekit/core';
import type { CliContext } from '../context.js';
import { renderTable } from '../output/table.js';

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
  const presenceTtlMs = config.worker.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS;
  const results = await Promise.all(
    connections.map(async (connection) =>
      checkConnectionHealth({
        name: connection.name,
        driver: connection.driver,
        isDefault: connection.name === config.defaultConnection,
        open: () => ctx.open(connection),
        discard: (driver) => ctx.discard(driver),
        queues: await ctx.queuesFor(connection, options.queue),
        thresholds,
        timeoutMs,
        rateLimits: config.rateLimits,
        presenceTtlMs,
      }),
    ),
  );
  return buildHealthReport(results, thresholds);
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
