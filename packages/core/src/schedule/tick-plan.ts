import { catchUpLimit, DEFAULT_SCHEDULE_GRACE_MS, previousTick, type ScheduleDefinition } from './schedule-definition.js';

/** Which due ticks of a schedule to fire now. */
export interface TickPlan {
  /** Ticks to offer to the ledger, oldest first (epoch ms). */
  readonly fire: readonly number[];
  /** True when due ticks were left unfired by the missed-tick policy. */
  readonly skipped: boolean;
}

/**
 * Plans the ticks of `schedule` due at backend time `now` after `after`: the ledger's last fired
 * tick, or for a schedule never fired the time a scheduler first saw it (a new schedule does not
 * back-fill). The latest due tick is on time while less than
 * `graceMs` old; the others are missed, and the policy fires at most `catchUp` of the most recent.
 */
export function planTicks(schedule: ScheduleDefinition, now: number, after: number): TickPlan {
  const graceMs = schedule.graceMs ?? DEFAULT_SCHEDULE_GRACE_MS;
  const catchUp = catchUpLimit(schedule);
  const due: number[] = [];
  // Newest first, one more than can fire, so that skipped ticks are seen without walking them all.
  for (let tick = previousTick(schedule, now + 1); tick > after && due.length <= catchUp + 1; tick = previousTick(schedule, tick)) {
    due.push(tick);
  }
  const latest = due[0];
  if (latest === undefined) return { fire: [], skipped: false };
  const onTime = now - latest < graceMs ? [latest] : [];
  const missed = due.slice(onTime.length);
  const caughtUp = missed.slice(0, catchUp);
  return { fire: [...caughtUp.reverse(), ...onTime], skipped: missed.length > caughtUp.length };
}
