import type { CoordinationStore } from '@queuekit/core';
import { assertCoordinationKey, assertCoordinationMs } from './coordination-checks.js';
import type { PostgresExecutor } from './postgres-rate-limit-store.js';
import type { postgresCoordinationSql } from './sql/coordination-sql.js';

/**
 * Counters and leased keys for job middleware (circuit breakers, overlap locks), one row per key
 * in `<schema>.coordination`, each step one statement on the server's clock, so every worker
 * process on the database sees the same state. The table is created on first use. Create the
 * store with `driver.createCoordinationStore()`.
 */
export class PostgresCoordinationStore implements CoordinationStore {
  readonly #execute: PostgresExecutor;
  readonly #sql: ReturnType<typeof postgresCoordinationSql>;
  #ready: Promise<unknown> | undefined;

  /** Internal: use `PostgresDriver.createCoordinationStore()`. */
  constructor(execute: PostgresExecutor, sql: ReturnType<typeof postgresCoordinationSql>) {
    this.#execute = execute;
    this.#sql = sql;
  }

  async increment(key: string, windowMs: number): Promise<number> {
    assertCoordinationKey('postgres', key);
    assertCoordinationMs('postgres', 'windowMs', windowMs);
    const { rows } = await this.#query('coordination.increment', this.#sql.increment, [key, windowMs]);
    return (rows[0] as { count: number }).count;
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<boolean> {
    assertCoordinationKey('postgres', key);
    assertCoordinationKey('postgres', owner, 'owner');
    assertCoordinationMs('postgres', 'ttlMs', ttlMs);
    const { rows } = await this.#query('coordination.acquire', this.#sql.acquire, [key, owner, ttlMs]);
    return rows.length === 1;
  }

  async release(key: string, owner: string): Promise<boolean> {
    assertCoordinationKey('postgres', key);
    const { rowCount } = await this.#query('coordination.release', this.#sql.release, [key, owner]);
    return rowCount === 1;
  }

  async remainingMs(key: string): Promise<number> {
    assertCoordinationKey('postgres', key);
    const { rows } = await this.#query('coordination.remainingMs', this.#sql.remaining, [key]);
    return Math.ceil((rows[0] as { remaining_ms: number } | undefined)?.remaining_ms ?? 0);
  }

  async delete(key: string): Promise<boolean> {
    assertCoordinationKey('postgres', key);
    const { rows } = await this.#query('coordination.delete', this.#sql.delete, [key]);
    return (rows[0] as { live: boolean } | undefined)?.live === true;
  }

  async #query(operation: string, text: string, values: unknown[]) {
    this.#ready ??= this.#execute('coordination.create', this.#sql.create, []).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    await this.#ready;
    return this.#execute(operation, text, values);
  }
}
