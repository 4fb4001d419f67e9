import { InvalidArgumentError, type RateLimitRule } from '@queuekit/core';

/** Throws InvalidArgumentError unless the rule and cost are positive finite numbers. */
export function assertRule(dialect: string, key: string, rule: RateLimitRule, cost: number): void {
  if (typeof key !== 'string' || key === '') throw new InvalidArgumentError(`${dialect}: rate limit key: expected a non-empty string`);
  if (!(rule.limit > 0) || !Number.isFinite(rule.limit)) throw new InvalidArgumentError(`${dialect}: rule.limit: expected a number > 0`);
  if (!(rule.intervalMs > 0) || !Number.isFinite(rule.intervalMs))
    throw new InvalidArgumentError(`${dialect}: rule.intervalMs: expected a number > 0`);
  if (!(cost > 0) || !Number.isFinite(cost)) throw new InvalidArgumentError(`${dialect}: cost: expected a number > 0`);
}

/** ms until `missing` tokens have refilled under `rule`. */
export function retryAfterMs(rule: RateLimitRule, missing: number): number {
  return Math.ceil((missing * rule.intervalMs) / rule.limit);
}
