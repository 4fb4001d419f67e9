import { quoteInput, runScheduleNow, type ScheduleStatus, scheduleStatuses } from '@queuekit/core';
import { CliError, EXIT_OK } from '../cli-error.js';
import type { CliSchedule } from '../config/config-types.js';
import type { CliContext } from '../context.js';
import { formatTime, renderTable } from '../output/table.js';

/** Flags of `queue schedule list|run`. */
export interface ScheduleCommandOptions {
  readonly json?: boolean;
}

const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());

/** A schedule's status as JSON: times as epoch ms and ISO strings, absent ones as null. */
function statusJson(connection: string, status: ScheduleStatus): Record<string, unknown> {
  return {
    name: status.name,
    connection,
    cron: status.cron,
    timezone: status.timezone,
    nextTickAt: status.nextTickAt,
    lastTickAt: status.lastTickAt ?? null,
    lastTickJobId: status.lastTickJobId ?? null,
    lastOutcome: status.lastOutcome ?? null,
    lastRunJobId: status.lastRunJobId ?? null,
    lastRunAt: status.lastRunAt ?? null,
    times: { nextTickAt: iso(status.nextTickAt), lastTickAt: iso(status.lastTickAt), lastRunAt: iso(status.lastRunAt) },
  };
}

/** `queue schedule list`: each schedule of the config with its next tick, last fired tick and that job's state (where the driver has lookups). */
export async function runScheduleList(ctx: CliContext, options: ScheduleCommandOptions): Promise<number> {
  const { schedules } = await ctx.config();
  const byConnection = new Map<string, CliSchedule[]>();
  for (const schedule of schedules) byConnection.set(schedule.connection, [...(byConnection.get(schedule.connection) ?? []), schedule]);
  const rows: { connection: string; status: ScheduleStatus }[] = [];
  for (const [name, group] of byConnection) {
    const driver = await ctx.open(await ctx.connection(name));
    for (const status of await scheduleStatuses(driver, group)) rows.push({ connection: name, status });
  }
  if (options.json === true) {
    ctx.out(
      JSON.stringify(
        rows.map(({ connection, status }) => statusJson(connection, status)),
        null,
        2,
      ),
    );
    return EXIT_OK;
  }
  if (rows.length === 0) {
    ctx.out('no schedules in the config');
    return EXIT_OK;
  }
  ctx.out(
    renderTable(
      [
        { header: 'SCHEDULE' },
        { header: 'CRON' },
        { header: 'NEXT TICK' },
        { header: 'LAST TICK' },
        { header: 'OUTCOME' },
        { header: 'LAST MANUAL RUN' },
      ],
      rows.map(({ status }) => [
        status.name,
        status.timezone === 'UTC' ? status.cron : `${status.cron} (${status.timezone})`,
        formatTime(status.nextTickAt),
        formatTime(status.lastTickAt),
        status.lastOutcome ?? '-',
        formatTime(status.lastRunAt),
      ]),
    ),
  );
  return EXIT_OK;
}

/** `queue schedule run NAME`: pushes the schedule's job now, once, recorded as a manual run (the tick sequence is unchanged). */
export async function runScheduleRun(ctx: CliContext, name: string, options: ScheduleCommandOptions): Promise<number> {
  const { schedules } = await ctx.config();
  const schedule = schedules.find((s) => s.name === name);
  if (schedule === undefined) {
    const known = schedules.map((s) => s.name);
    throw new CliError(
      `no schedule named ${quoteInput(name)} in the config (${known.length === 0 ? 'it has no schedules' : `schedules: ${known.join(', ')}`})`,
    );
  }
  const driver = await ctx.open(await ctx.connection(schedule.connection));
  const jobId = await runScheduleNow(driver, schedule);
  if (options.json === true)
    ctx.out(JSON.stringify({ schedule: schedule.name, connection: schedule.connection, jobId, manual: true }, null, 2));
  else ctx.out(`schedule ${schedule.name}: pushed job ${jobId} (a manual run; the next tick is unchanged)`);
  return EXIT_OK;
}
