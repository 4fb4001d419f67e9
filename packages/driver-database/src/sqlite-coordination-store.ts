import type { CoordinationStore, ScheduleLedgerEntry } from '@queuekit/core';
import type Database from 'better-sqlite3';
import { assertCoordinationKey, assertCoordinationMs } from './coordination-checks.js';
import { assertLedgerInput, type ScheduleLedgerRow, scheduleLedgerEntry } from './schedule-ledger-row.js';
import type { sqliteCoordinationSql } from './sql/coordination-sql.js';
import type { SqliteExecutor } from './sqlite-rate-limit-store.js';

/**
 * Counters and leased keys for job middleware, one row per key in `<prefix>coordination`, and the
 * schedule ledger, one row per schedule in `<prefix>schedule_ledger`, shared by every process
 * using the file; each step is one statement (SQLite serialises writers). SQLite has no server:
 * times are the machine's clock, which every process on the file shares. The tables are created
 * on first use. Create the store with
 * `driver.createCoordinationStore()`.
 */
export class SqliteCoordinationStore implements CoordinationStore {
  readonly #execute: SqliteExecutor;
  readonly #sql: ReturnType<typeof sqliteCoordinationSql>;
  #ready = false;

  /** Internal: use `SqliteDriver.createCoordinationStore()`. */
  constructor(execute: SqliteExecutor, sql: ReturnType<typeof sqliteCoordinationSql>) {
    this.#execute = execute;
    this.#sql = sql;
  }

  async increment(key: string, windowMs: number): Promise<number> {
    assertCoordinationKey('sqlite', key);
    assertCoordinationMs('sqlite', 'windowMs', windowMs);
    const row = (await this.#run('increment', (prepare) =>
      prepare('coordinationIncrement', this.#sql.increment).get({ key, window_ms: Math.ceil(windowMs), now: Date.now() }),
    )) as { count: number };
    return row.count;
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<boolean> {
    assertCoordinationKey('sqlite', key);
    assertCoordinationKey('sqlite', owner, 'owner');
    assertCoordinationMs('sqlite', 'ttlMs', ttlMs);
    const row = await this.#run('acquire', (prepare) =>
      prepare('coordinationAcquire', this.#sql.acquire).get({ key, owner, ttl_ms: Math.ceil(ttlMs), now: Date.now() }),
    );
    return row !== undefined;
  }

  async release(key: string, owner: string): Promise<boolean> {
    assertCoordinationKey('sqlite', key);
    const info = await this.#run('release', (prepare) =>
      prepare('coordinationRelease', this.#sql.release).run({ key, owner, now: Date.now() }),
    );
    return info.changes === 1;
  }

  async remainingMs(key: string): Promise<number> {
    assertCoordinationKey('sqlite', key);
    const row = (await this.#run('remainingMs', (prepare) =>
      prepare('coordinationRemaining', this.#sql.remaining).get({ key, now: Date.now() }),
    )) as { remaining_ms: number } | undefined;
    return row?.remaining_ms ?? 0;
  }

  async delete(key: string): Promise<boolean> {
    assertCoordinationKey('sqlite', key);
    const row = (await this.#run('delete', (prepare) => prepare('coordinationDelete', this.#sql.delete).get({ key, now: Date.now() }))) as
      | { live: number }
      | undefined;
    return row?.live === 1;
  }

  async now(): Promise<number> {
    return Date.now();
  }

  async recordTick(schedule: string, tickAt: number, jobId: string): Promise<boolean> {
    assertLedgerInput('sqlite', schedule, jobId, tickAt);
    const row = await this.#run('recordTick', (prepare) =>
      prepare('ledgerRecordTick', this.#sql.recordTick).get({ schedule, tick_at: tickAt, job_id: jobId, now: Date.now() }),
    );
    return row !== undefined;
  }

  async recordManualRun(schedule: string, jobId: string): Promise<void> {
    assertLedgerInput('sqlite', schedule, jobId);
    await this.#run('recordManualRun', (prepare) =>
      prepare('ledgerRecordRun', this.#sql.recordRun).run({ schedule, job_id: jobId, now: Date.now() }),
    );
  }

  async scheduleEntry(schedule: string): Promise<ScheduleLedgerEntry | undefined> {
    assertLedgerInput('sqlite', schedule);
    const row = await this.#run('scheduleEntry', (prepare) => prepare('ledgerEntry', this.#sql.ledgerEntry).get({ schedule }));
    return scheduleLedgerEntry(row as ScheduleLedgerRow | undefined);
  }

  #run<T>(operation: string, fn: (prepare: (name: string, text: string) => Database.Statement) => T): Promise<T> {
    return this.#execute(`coordination.${operation}`, (prepare) => {
      if (!this.#ready) {
        prepare('coordinationCreate', this.#sql.create).run();
        prepare('ledgerCreate', this.#sql.createLedger).run();
        this.#ready = true;
      }
      return fn(prepare);
    });
  }
}
