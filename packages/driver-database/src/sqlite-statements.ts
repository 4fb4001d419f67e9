import type Database from 'better-sqlite3';
import type { SqliteSql } from './sql/sqlite-sql.js';

/** The names of the dialect's statements (every text member of {@link SqliteSql}). */
export type SqliteStatementName = { [K in keyof SqliteSql]: SqliteSql[K] extends string ? K : never }[keyof SqliteSql];

/**
 * One open database with the dialect's statements, each prepared on first use and kept: a
 * prepared statement is most of the cost of a small call, and better-sqlite3 runs it in-process.
 */
export class SqliteStatements {
  readonly #db: Database.Database;
  readonly #sql: SqliteSql;
  readonly #prepared = new Map<string, Database.Statement>();

  constructor(db: Database.Database, sql: SqliteSql) {
    this.#db = db;
    this.#sql = sql;
  }

  /** The prepared statement `name` of the dialect. */
  get(name: SqliteStatementName): Database.Statement {
    return this.prepare(name, this.#sql[name]);
  }

  /** Prepares `text` once under `name` (for statements outside the dialect's list, such as the rate-limit store's). */
  prepare(name: string, text: string): Database.Statement {
    let statement = this.#prepared.get(name);
    if (statement === undefined) {
      statement = this.#db.prepare(text);
      this.#prepared.set(name, statement);
    }
    return statement;
  }

  /** Runs `fn` inside one BEGIN IMMEDIATE transaction (the write lock first, so no upgrade deadlock); rolls back when it throws. */
  immediate<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /** Whether job `id` is still stored (tells a lost lease from a job already settled). */
  exists(id: string): boolean {
    return this.get('exists').get({ job_id: id }) !== undefined;
  }

  /** Forgets the prepared statements (before the database closes). */
  clear(): void {
    this.#prepared.clear();
  }
}
