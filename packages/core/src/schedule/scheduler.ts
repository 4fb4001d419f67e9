import { CronExpressionParser } from 'cron-parser';
import type { QueueDriver } from '../driver/queue-driver.js';
import { ConfigError } from '../errors/config-error.js';
import type { Job } from '../job/job.js';
import { type Logger, silentLogger } from '../logger/logger.js';

/** One recurring job. */
export interface ScheduleDefinition {
  /** Stable name, part of the dedupe key: keep it the same across deploys. */
  readonly name: string;
  /** A cron expression (5 fields, or 6 with seconds first). */
  readonly cron: string;
  /** IANA time zone the expression is read in; default UTC. */
  readonly timezone?: string;
  /** Builds the job for the tick at `tickAt` (epoch ms). Its delay and unique key are set by the scheduler. */
  readonly job: (tickAt: number) => Job;
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  readonly driver: QueueDriver;
  readonly schedules: readonly ScheduleDefinition[];
  readonly logger?: Logger;
  /** Pause after a failed push before trying again, in ms; default 5,000. */
  readonly retryMs?: number;
  /** Clock, epoch ms; default Date.now. */
  readonly now?: () => number;
}

/**
 * Dispatches jobs on cron schedules. Each tick's job is pushed ahead of time as a delayed job
 * holding the unique key `schedule:<name>:<tickAt>`, so several scheduler processes enqueue a
 * tick once between them, not once each: the first push wins and the others are skipped while the
 * job waits for its time. Ticks that passed while no scheduler ran are not back-filled.
 * Needs a driver with unique keys and delays.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  #running = false;

  constructor(options: SchedulerOptions) {
    const { capabilities } = options.driver;
    if (!capabilities.uniqueKeys || capabilities.delay === 'none') {
      throw new ConfigError(
        `scheduler: the ${options.driver.name} driver lacks unique keys or delays, which the scheduler needs to enqueue each tick once`,
      );
    }
    const names = new Set<string>();
    for (const schedule of options.schedules) {
      if (names.has(schedule.name)) throw new ConfigError(`scheduler: schedule name "${schedule.name}" is used twice`);
      names.add(schedule.name);
      Scheduler.nextTick(schedule, Date.now());
    }
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /** The first tick of `schedule` strictly after `after` (epoch ms); throws ConfigError on a bad expression or zone. */
  static nextTick(schedule: Pick<ScheduleDefinition, 'name' | 'cron' | 'timezone'>, after: number): number {
    return Scheduler.#tick(schedule, after, 'next');
  }

  /** The last tick of `schedule` strictly before `before` (epoch ms); throws ConfigError on a bad expression or zone. */
  static previousTick(schedule: Pick<ScheduleDefinition, 'name' | 'cron' | 'timezone'>, before: number): number {
    return Scheduler.#tick(schedule, before, 'prev');
  }

  static #tick(schedule: Pick<ScheduleDefinition, 'name' | 'cron' | 'timezone'>, from: number, direction: 'next' | 'prev'): number {
    try {
      const expression = CronExpressionParser.parse(schedule.cron, { currentDate: new Date(from), tz: schedule.timezone ?? 'UTC' });
      return (direction === 'next' ? expression.next() : expression.prev()).getTime();
    } catch (error) {
      throw new ConfigError(
        `scheduler: schedule "${schedule.name}": invalid cron "${schedule.cron}"${schedule.timezone ? ` in ${schedule.timezone}` : ''}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Starts pushing ticks; returns at once. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const schedule of this.#options.schedules) void this.#advance(schedule, this.#now());
  }

  /** Stops pushing; jobs already pushed for future ticks stay queued. */
  stop(): void {
    this.#running = false;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Pushes the tick after `after`, then sleeps until it is due and pushes the next one. */
  async #advance(schedule: ScheduleDefinition, after: number): Promise<void> {
    if (!this.#running) return;
    const tickAt = Scheduler.nextTick(schedule, after);
    let nextAfter = tickAt;
    let waitMs: number;
    try {
      const job = schedule.job(tickAt).delay(new Date(tickAt)).unique(`schedule:${schedule.name}:${tickAt}`);
      const result = await job.dispatch(this.#options.driver);
      this.#log.debug(result.skipped.length > 0 ? 'tick already enqueued by another scheduler' : 'tick enqueued', {
        schedule: schedule.name,
        tickAt,
      });
      waitMs = Math.max(0, tickAt - this.#now());
    } catch (error) {
      this.#log.error('scheduler could not enqueue a tick; trying again', { schedule: schedule.name, tickAt, error });
      nextAfter = after;
      waitMs = this.#options.retryMs ?? 5_000;
    }
    if (!this.#running) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#advance(schedule, nextAfter);
    }, waitMs);
    this.#timers.add(timer);
  }
}
