import { CronExpressionParser } from 'cron-parser';
import type { CoordinationStore } from '../coordination/coordination-store.js';
import type { QueueDriver } from '../driver/queue-driver.js';
import { ConfigError } from '../errors/config-error.js';
import { quoteInput } from '../errors/quote-input.js';
import type { Job } from '../job/job.js';

/**
 * What a scheduler does with ticks that came due while no scheduler fired them (all processes
 * down, a long stall): `'skip'` fires none of them, `{ catchUp: n }` fires at most the n most
 * recent, oldest first. The latest due tick still within the grace period is not missed.
 */
export type MissedTickPolicy = 'skip' | { readonly catchUp: number };

/**
 * What a scheduler does when a tick comes due while the job of the previous tick is still waiting
 * or running: `'allow'` dispatches anyway, `'skip'` records the tick without a job. `'skip'` needs
 * a driver with job lookups (`capabilities.lookup`).
 */
export type OverlapPolicy = 'allow' | 'skip';

/** One recurring job. */
export interface ScheduleDefinition {
  /** Stable name, the key of the schedule's ledger entry: keep it the same across deploys. */
  readonly name: string;
  /** A cron expression (5 fields, or 6 with seconds first). */
  readonly cron: string;
  /** IANA time zone the expression is read in; default UTC. */
  readonly timezone?: string;
  /** Builds the job for the tick at `tickAt` (epoch ms); a manual run passes the backend's time. */
  readonly job: (tickAt: number) => Job;
  /** Ticks missed while no scheduler ran; default `'skip'`. */
  readonly missed?: MissedTickPolicy;
  /** A tick due while the previous tick's job is unfinished; default `'allow'`. */
  readonly overlap?: OverlapPolicy;
  /**
   * How late the latest due tick may be fired as on time, in ms; default 60,000. A tick found
   * later than this (a scheduler restarted after a long pause) counts as missed.
   */
  readonly graceMs?: number;
}

/** Default of {@link ScheduleDefinition.graceMs}. */
export const DEFAULT_SCHEDULE_GRACE_MS = 60_000;

type TickSchedule = Pick<ScheduleDefinition, 'name' | 'cron' | 'timezone'>;

/** The first tick of `schedule` strictly after `after` (epoch ms); ConfigError on a bad expression or zone. */
export function nextTick(schedule: TickSchedule, after: number): number {
  return tick(schedule, after, 'next');
}

/** The last tick of `schedule` strictly before `before` (epoch ms); ConfigError on a bad expression or zone. */
export function previousTick(schedule: TickSchedule, before: number): number {
  return tick(schedule, before, 'prev');
}

function tick(schedule: TickSchedule, from: number, direction: 'next' | 'prev'): number {
  try {
    const expression = CronExpressionParser.parse(schedule.cron, { currentDate: new Date(from), tz: schedule.timezone ?? 'UTC' });
    return (direction === 'next' ? expression.next() : expression.prev()).getTime();
  } catch (error) {
    throw new ConfigError(
      `scheduler: schedule "${schedule.name}": invalid cron "${schedule.cron}"${schedule.timezone ? ` in ${schedule.timezone}` : ''}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The number of missed ticks a schedule may fire (0 for `'skip'`). */
export function catchUpLimit(schedule: ScheduleDefinition): number {
  return schedule.missed === undefined || schedule.missed === 'skip' ? 0 : schedule.missed.catchUp;
}

/**
 * Checks a list of schedules against a driver: unique names, valid cron and zone, policies and
 * what they need. Throws ConfigError naming the schedule and the option.
 */
export function validateSchedules(schedules: readonly ScheduleDefinition[], driver: QueueDriver): void {
  const names = new Set<string>();
  for (const schedule of schedules) {
    const label = `scheduler: schedule "${schedule.name}"`;
    if (typeof schedule.name !== 'string' || schedule.name === '' || schedule.name.length > 200 || /[{}]/.test(schedule.name)) {
      throw new ConfigError(`scheduler: a schedule name must be 1-200 characters without { or }, got ${quoteInput(schedule.name)}`);
    }
    if (names.has(schedule.name)) throw new ConfigError(`scheduler: schedule name "${schedule.name}" is used twice`);
    names.add(schedule.name);
    if (typeof schedule.job !== 'function') throw new ConfigError(`${label}: job must be a function (tickAt) => Job`);
    nextTick(schedule, Date.now());
    const missed = schedule.missed;
    if (
      missed !== undefined &&
      missed !== 'skip' &&
      !(typeof missed === 'object' && missed !== null && Number.isSafeInteger(missed.catchUp) && missed.catchUp >= 1)
    ) {
      throw new ConfigError(`${label}: missed must be 'skip' or { catchUp: n } with an integer n >= 1, got ${quoteInput(missed)}`);
    }
    if (schedule.overlap !== undefined && schedule.overlap !== 'allow' && schedule.overlap !== 'skip') {
      throw new ConfigError(`${label}: overlap must be 'allow' or 'skip', got ${quoteInput(schedule.overlap)}`);
    }
    if (schedule.overlap === 'skip' && (!driver.capabilities.lookup || driver.getJob === undefined)) {
      throw new ConfigError(
        `${label}: overlap 'skip' needs job lookups to see whether the previous tick's job is still running, and the ${driver.name} driver has none (use overlap 'allow')`,
      );
    }
    if (schedule.graceMs !== undefined && !(Number.isFinite(schedule.graceMs) && schedule.graceMs > 0)) {
      throw new ConfigError(`${label}: graceMs must be a number of ms > 0, got ${quoteInput(schedule.graceMs)}`);
    }
  }
}

/** The driver's coordination store, which holds the schedule ledger; ConfigError for a driver without one. */
export function scheduleLedger(driver: QueueDriver): CoordinationStore {
  const store = driver.createCoordinationStore?.();
  if (store === undefined) {
    throw new ConfigError(
      `scheduler: the ${driver.name} driver keeps no coordination store, where the scheduler records fired ticks so that each fires once`,
    );
  }
  return store;
}
