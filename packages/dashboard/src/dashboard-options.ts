import type { HealthThresholds, QueueManager, RateLimitRule, ScheduleDefinition } from '@queuekit/core';
import type { JobRateRecorder } from './job-rate-recorder.js';

/** A cron schedule the dashboard lists with its previous and next tick. */
export interface DashboardSchedule {
  /** The schedule's name (as given to the Scheduler). */
  readonly name: string;
  /** Its cron expression. */
  readonly cron: string;
  /** IANA time zone; default UTC. */
  readonly timezone?: string;
  /** Connection its ticks are pushed to; default the manager's default connection. */
  readonly connection?: string;
  /**
   * The schedule's job, as core's ScheduleDefinition has it. With it (and a backend that keeps the
   * schedule ledger) the last tick shown is the last one fired, with its job's state; without it,
   * the expression's tick before now.
   */
  readonly job?: ScheduleDefinition['job'];
}

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** The connections to show; the dashboard never closes it. */
  readonly manager: QueueManager;
  /** Queues to show: one list for every connection, or lists by connection name; default `['default']`. */
  readonly queues?: readonly string[] | Readonly<Record<string, readonly string[]>>;
  /** Thresholds that put a queue or connection among the problems (as `queue health`); unset ones apply none. */
  readonly thresholds?: Partial<HealthThresholds>;
  /** Rate-limit rules by queue name, whose usage the overview shows. */
  readonly rateLimits?: Readonly<Record<string, RateLimitRule>>;
  /** Lifetime of a worker presence heartbeat, in ms; default 30,000 (as `queue work`). */
  readonly presenceTtlMs?: number;
  /** Longest a connection may take to answer before it is shown unreachable, in ms; default 5,000. */
  readonly timeoutMs?: number;
  /** Cron schedules to list. */
  readonly schedules?: readonly DashboardSchedule[];
  /**
   * Throughput and wait-time source for connections whose driver keeps no completed jobs (no
   * `capabilities.retention`): a recorder observing this process's workers. Where a driver keeps
   * them, the rates are read from its records instead; with neither, none are shown.
   */
  readonly rates?: JobRateRecorder;
  /** Hides every action and refuses every POST. */
  readonly readOnly?: boolean;
  /** When set, every request must carry it (`Authorization: Bearer T`, or `?token=T` once, which sets a cookie). */
  readonly token?: string;
  /** Path prefix the handler is mounted under (e.g. `/queues`); default none. */
  readonly basePath?: string;
  /** How often open pages refresh their numbers, in ms; default 5,000. */
  readonly refreshMs?: number;
  /** Most recent dead letters scanned to group them by error message; default 1,000. */
  readonly deadLetterScanLimit?: number;
}
