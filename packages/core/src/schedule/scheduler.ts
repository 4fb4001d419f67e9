import type { CoordinationStore } from '../coordination/coordination-store.js';
import type { QueueDriver } from '../driver/queue-driver.js';
import type { Job } from '../job/job.js';
import { type Logger, silentLogger } from '../logger/logger.js';
import { sleep } from '../rate-limit/rate-limiter.js';
import { nextTick, previousTick, type ScheduleDefinition, scheduleLedger, validateSchedules } from './schedule-definition.js';
import { planTicks } from './tick-plan.js';

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  readonly driver: QueueDriver;
  readonly schedules: readonly ScheduleDefinition[];
  /** Where fired ticks are recorded; default the driver's coordination store (`createCoordinationStore()`). */
  readonly ledger?: CoordinationStore;
  readonly logger?: Logger;
  /** Pause after a failed ledger call or push before trying again, in ms; default 5,000. */
  readonly retryMs?: number;
  /** This process's clock, epoch ms; default Date.now. Only turns backend times into timer delays. */
  readonly now?: () => number;
  /** Called after each tick this scheduler fired (its job pushed) — for logs and tests. */
  readonly onFire?: (event: { readonly schedule: string; readonly tickAt: number; readonly jobId: string }) => void;
}

const UNFINISHED = new Set(['waiting', 'delayed', 'active']);

/**
 * Dispatches jobs on cron schedules, each tick exactly once however many scheduler processes run
 * and whatever their clocks. The backend decides: its clock says which ticks are due, and its
 * schedule ledger (in the coordination store) keeps the last tick fired per schedule, recorded by
 * compare-and-set, so a tick is fired by the one scheduler that records it and a late or skewed
 * scheduler cannot fire it again. A restarted scheduler reads the ledger and applies the
 * schedule's missed-tick policy to the ticks that came due while none ran.
 *
 * A tick is recorded before its job is pushed (a failed push is retried): a scheduler process that
 * dies between the two loses that tick rather than firing it twice.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #ledger: CoordinationStore;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #retryMs: number;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Wakes under way, awaited by stop(). */
  readonly #wakes = new Set<Promise<void>>();
  /** Per schedule never fired: when this scheduler first saw it (backend clock), the start of its tick sequence. */
  readonly #firstSeenAt = new Map<string, number>();
  #stopped = new AbortController();
  #running = false;
  /** Backend clock minus this process's clock, in ms, from the latest `now()` round trip. */
  #offsetMs = 0;

  constructor(options: SchedulerOptions) {
    validateSchedules(options.schedules, options.driver);
    this.#ledger = options.ledger ?? scheduleLedger(options.driver);
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#retryMs = options.retryMs ?? 5_000;
  }

  /** The first tick of `schedule` strictly after `after` (epoch ms); throws ConfigError on a bad expression or zone. */
  static nextTick(schedule: Pick<ScheduleDefinition, 'name' | 'cron' | 'timezone'>, after: number): number {
    return nextTick(schedule, after);
  }

  /** The last tick of `schedule` strictly before `before` (epoch ms); throws ConfigError on a bad expression or zone. */
  static previousTick(schedule: Pick<ScheduleDefinition, 'name' | 'cron' | 'timezone'>, before: number): number {
    return previousTick(schedule, before);
  }

  /** Starts firing ticks; returns at once. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = new AbortController();
    for (const schedule of this.#options.schedules) this.#startWake(schedule);
  }

  #startWake(schedule: ScheduleDefinition): void {
    const wake = this.#wake(schedule).finally(() => this.#wakes.delete(wake));
    this.#wakes.add(wake);
  }

  /**
   * Stops firing: no further tick is recorded. Resolves once a firing under way has finished (its
   * push done, or, when the push keeps failing, given up and logged).
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopped.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all(this.#wakes);
  }

  /** Fires what is due for `schedule`, then sleeps until its next tick (backend clock). */
  async #wake(schedule: ScheduleDefinition): Promise<void> {
    if (!this.#running) return;
    let delayMs: number;
    try {
      const now = await this.#backendNow();
      await this.#fireDue(schedule, now);
      delayMs = nextTick(schedule, now) - (this.#now() + this.#offsetMs);
    } catch (error) {
      this.#log.error('scheduler could not fire a schedule; trying again', { schedule: schedule.name, error });
      delayMs = this.#retryMs;
    }
    if (!this.#running) return;
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        this.#startWake(schedule);
      },
      Math.max(1, delayMs),
    );
    this.#timers.add(timer);
  }

  /** The backend's time, remembering its offset from this process's clock for timer delays. */
  async #backendNow(): Promise<number> {
    const before = this.#now();
    const now = await this.#ledger.now();
    this.#offsetMs = now - (before + this.#now()) / 2;
    return now;
  }

  async #fireDue(schedule: ScheduleDefinition, now: number): Promise<void> {
    const entry = await this.#ledger.scheduleEntry(schedule.name);
    let after = entry?.lastTickAt;
    if (after === undefined) {
      after = this.#firstSeenAt.get(schedule.name) ?? now;
      this.#firstSeenAt.set(schedule.name, after);
    }
    const plan = planTicks(schedule, now, after);
    if (plan.skipped) this.#log.info('ticks missed while no scheduler ran were skipped', { schedule: schedule.name, after, now });
    let previousJobId = entry?.lastTickJobId;
    for (const tickAt of plan.fire) {
      if (!this.#running) return;
      const job = schedule.job(tickAt);
      const overlapping = schedule.overlap === 'skip' && previousJobId !== undefined && (await this.#unfinished(previousJobId));
      const jobId = overlapping && previousJobId !== undefined ? previousJobId : job.id;
      if (!(await this.#ledger.recordTick(schedule.name, tickAt, jobId))) {
        this.#log.debug('tick already fired by another scheduler', { schedule: schedule.name, tickAt });
        continue;
      }
      if (overlapping) {
        this.#log.info("tick skipped: the previous tick's job is still unfinished", { schedule: schedule.name, tickAt, jobId });
        continue;
      }
      await this.#push(schedule, tickAt, job);
      previousJobId = jobId;
    }
  }

  async #unfinished(jobId: string): Promise<boolean> {
    const info = await this.#options.driver.getJob?.(jobId);
    return info !== undefined && UNFINISHED.has(info.state);
  }

  /** Pushes a recorded tick's job, retrying a failed push until it succeeds or the scheduler stops. */
  async #push(schedule: ScheduleDefinition, tickAt: number, job: Job): Promise<void> {
    for (;;) {
      try {
        await job.dispatch(this.#options.driver);
        this.#log.debug('tick fired', { schedule: schedule.name, tickAt, jobId: job.id });
        this.#options.onFire?.({ schedule: schedule.name, tickAt, jobId: job.id });
        return;
      } catch (error) {
        this.#log.error('scheduler could not push the job of a recorded tick; trying again', { schedule: schedule.name, tickAt, error });
        if (!(await sleep(this.#retryMs, this.#stopped.signal))) {
          this.#log.error('scheduler stopped before the job of a recorded tick was pushed; the tick is lost', {
            schedule: schedule.name,
            tickAt,
          });
          return;
        }
      }
    }
  }
}
