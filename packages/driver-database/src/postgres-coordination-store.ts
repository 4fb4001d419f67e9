import type { CoordinationStore, ScheduleLedgerEntry } from '@queuekit/core';
import { assertCoordinationKey, assertCoordinationMs } from './coordination-checks.js';
import type { PostgresExecutor } from './postgres-rate-limit-store.js';
import { assertLedgerInput, type ScheduleLedgerRow, scheduleLedgerEntry } from './schedule-ledger-row.js';
import type { postgresCoordinationSql } from './sql/coordination-sql.js';

/**
 * Counters and leased keys for job middleware (circuit breakers, overlap locks), one row per key
 * in `<schema>.coordination`, and the schedule ledger, one row per schedule in
 * `<schema>.schedule_ledger`; each step one statement on the server's clock (`now()`), so every
 * process on the database sees the same state. The tables are created on first use. Create the
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

  async now(): Promise<number> {
    const { rows } = await this.#execute('coordination.now', this.#sql.now, []);
    return Number((rows[0] as { now: string | number }).now);
  }

  async recordTick(schedule: string, tickAt: number, jobId: string): Promise<boolean> {
    assertLedgerInput('postgres', schedule, jobId, tickAt);
    const { rows } = await this.#query('coordination.recordTick', this.#sql.recordTick, [schedule, tickAt, jobId]);
    return rows.length === 1;
  }

  async recordManualRun(schedule: string, jobId: string): Promise<void> {
    assertLedgerInput('postgres', schedule, jobId);
    await this.#query('coordination.recordManualRun', this.#sql.recordRun, [schedule, jobId]);
  }

  async scheduleEntry(schedule: string): Promise<ScheduleLedgerEntry | undefined> {
    assertLedgerInput('postgres', schedule);
    const { rows } = await this.#query('coordination.scheduleEntry', this.#sql.ledgerEntry, [schedule]);
    return scheduleLedgerEntry(rows[0] as ScheduleLedgerRow | undefined);
  }

  /**
   * Runs a `CREATE TABLE IF NOT EXISTS`. Two sessions creating the same table at once make one
   * fail with a unique violation on the catalog (23505) or duplicate_table (42P07): the table
   * exists then, which is all this step needs.
   */
  async #create(operation: string, text: string): Promise<void> {
    try {
      await this.#execute(operation, text, []);
    } catch (error) {
      const code = ((error as { cause?: { code?: unknown } }).cause ?? (error as { code?: unknown }))?.code;
      if (code !== '23505' && code !== '42P07') throw error;
    }
  }

  async #query(operation: string, text: string, values: unknown[]) {
    this.#ready ??= Promise.all([
      this.#create('coordination.create', this.#sql.create),
      this.#create('coordination.createLedger', this.#sql.createLedger),
    ]).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    await this.#ready;
    return this.#execute(operation, text, values);
  }
}
