import type { RateLimitDecision, RateLimitRule, RateLimitStore } from '@queuekit/core';
import type pg from 'pg';
import { assertRule, retryAfterMs } from './rate-limit-rule.js';
import type { PostgresSql } from './sql/postgres-sql.js';

/** Runs one statement through the driver (open check, migration, error wrapping). */
export type PostgresExecutor = (operation: string, text: string, values: unknown[]) => Promise<pg.QueryResult>;

/**
 * Token buckets shared by every worker process: one row per bucket in `<schema>.rate_limits`,
 * refilled and taken in a single upsert on the server's clock. Create it with
 * `driver.createRateLimitStore()`.
 */
export class PostgresRateLimitStore implements RateLimitStore {
  readonly #execute: PostgresExecutor;
  readonly #sql: PostgresSql;

  /** Internal: use `PostgresDriver.createRateLimitStore()`. */
  constructor(execute: PostgresExecutor, sql: PostgresSql) {
    this.#execute = execute;
    this.#sql = sql;
  }

  async take(key: string, rule: RateLimitRule, cost = 1): Promise<RateLimitDecision> {
    assertRule('postgres', key, rule, cost);
    const { rows } = await this.#execute('rateLimit.take', this.#sql.rateLimitTake, [key, rule.limit, rule.intervalMs, cost]);
    const row = rows[0] as { tokens: number; granted: boolean };
    return {
      granted: row.granted,
      remaining: Math.floor(row.tokens),
      retryAfterMs: row.granted ? 0 : retryAfterMs(rule, cost - row.tokens),
    };
  }

  async peek(key: string, rule: RateLimitRule): Promise<number> {
    assertRule('postgres', key, rule, 1);
    const { rows } = await this.#execute('rateLimit.peek', this.#sql.rateLimitPeek, [key, rule.limit, rule.intervalMs]);
    const row = rows[0] as { tokens: number } | undefined;
    return Math.floor(row?.tokens ?? rule.limit);
  }
}
