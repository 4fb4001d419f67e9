/** What a numeric config key accepts: a whole number or any finite number, with a lower bound. */
export interface NumberRule {
  /** Only whole numbers. */
  readonly integer: boolean;
  /** The smallest value allowed. */
  readonly min: number;
  /** True when `min` itself is excluded (`> 0` rather than `>= 0`). */
  readonly exclusive?: boolean;
}

const count = (min: number): NumberRule => ({ integer: true, min });
const ms = (zeroAllowed: boolean): NumberRule => ({ integer: false, min: 0, exclusive: !zeroAllowed });

/** The numeric keys of `worker`, with what the Worker accepts for each (so a bad value fails at load, naming its key). */
export const WORKER_NUMBER_RULES = {
  concurrency: count(1),
  leaseMs: ms(false),
  heartbeatMs: ms(false),
  waitMs: ms(true),
  shutdownGraceMs: ms(true),
  defaultTimeoutMs: ms(false),
  maxJobs: count(1),
  maxRuntimeMs: ms(false),
  maxMemoryMb: ms(false),
  maxSettling: count(0),
  maxLostDeliveries: count(0),
  prefetch: count(0),
  groupConcurrency: count(1),
  presenceTtlMs: ms(false),
} as const satisfies Record<string, NumberRule>;

/** The numeric keys of `health`. */
export const HEALTH_NUMBER_RULES = {
  maxReady: count(0),
  maxOldestAgeMs: ms(true),
  maxDead: count(0),
  minWorkers: count(0),
  timeoutMs: ms(false),
} as const satisfies Record<string, NumberRule>;

/** True when `value` satisfies `rule`. */
export function satisfies(value: unknown, rule: NumberRule): value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (rule.integer && !Number.isInteger(value)) return false;
  return rule.exclusive === true ? value > rule.min : value >= rule.min;
}

/** `an integer >= 1`, `a number > 0`: what an error says was expected. */
export function describeRule(rule: NumberRule): string {
  return `${rule.integer ? 'an integer' : 'a number'} ${rule.exclusive === true ? '>' : '>='} ${rule.min}`;
}
