import type { RateLimitDecision, RateLimitRule, RateLimitStore } from '@queuekit/core';
import type Database from 'better-sqlite3';
import { assertRule, retryAfterMs } from './rate-limit-rule.js';
import type { SqliteSql } from './sql/sqlite-sql.js';

/** Runs `fn` through the driver (open check, migration, error wrapping) with a statement cache. */
export type SqliteExecutor = <T>(operation: string, fn: (prepare: (name: string, text: string) => Database.Statement) => T) => Promise<T>;

/**
 * Token buckets shared by every process using the file: one row per bucket in `<prefix>rate_limits`,
 * refilled and taken in a single upsert. Create it with `driver.createRateLimitStore()`.
 */
export class SqliteRateLimitStore implements RateLimitStore {
  readonly #execute: SqliteExecutor;
  readonly #sql: SqliteSql;

  /** Internal: use `SqliteDriver.createRateLimitStore()`. */
  constructor(execute: SqliteExecutor, sql: SqliteSql) {
    this.#execute = execute;
    this.#sql = sql;
  }

  async take(key: string, rule: RateLimitRule, cost = 1): Promise<RateLimitDecision> {
    assertRule('sqlite', key, rule, cost);
    const row = await this.#execute(
      'rateLimit.take',
      (prepare) =>
        prepare('rateLimitTake', this.#sql.rateLimitTake).get({
          key,
          limit: rule.limit,
          interval_ms: rule.intervalMs,
          cost,
          now: Date.now(),
        }) as {
          tokens: number;
          granted: number;
        },
    );
    const granted = row.granted === 1;
    return { granted, remaining: Math.floor(row.tokens), retryAfterMs: granted ? 0 : retryAfterMs(rule, cost - row.tokens) };
  }

  async peek(key: string, rule: RateLimitRule): Promise<number> {
    assertRule('sqlite', key, rule, 1);
    const row = await this.#execute(
      'rateLimit.peek',
      (prepare) =>
        prepare('rateLimitPeek', this.#sql.rateLimitPeek).get({ key, limit: rule.limit, interval_ms: rule.intervalMs, now: Date.now() }) as
          | { tokens: number }
          | undefined,
    );
    return Math.floor(row?.tokens ?? rule.limit);
  }
}
