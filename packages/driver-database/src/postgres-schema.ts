import type pg from 'pg';
import { checkOut } from './checked-out-client.js';
import { quoteIdentifier } from './identifier.js';
import type { MigrationResult } from './migration.js';
import { Migrator } from './migrator.js';
import type { PostgresSql } from './sql/postgres-sql.js';

/** Anything with pg's `query(text, values)`: the pool, or one client inside a transaction. */
interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

/**
 * The versioned tables of one PostgreSQL schema: the shared migration flow ({@link Migrator}) run in
 * one transaction under a per-schema advisory lock, so concurrent migrators apply each step once.
 */
export class PostgresSchema {
  readonly #pool: pg.Pool;
  readonly #sql: PostgresSql;
  readonly #schema: string;
  readonly #migrator: Migrator;
  readonly #backgroundError: (operation: string, error: unknown) => void;

  /**
   * `schema` must already be validated; `backgroundError` hears of what no caller awaits: a ROLLBACK
   * that failed after a failed migration, an `error` event of the migration's connection.
   */
  constructor(pool: pg.Pool, sql: PostgresSql, schema: string, backgroundError: (operation: string, error: unknown) => void) {
    this.#pool = pool;
    this.#sql = sql;
    this.#schema = schema;
    this.#migrator = new Migrator({ dialect: 'postgres', subject: `schema "${schema}"`, migrations: sql.migrations });
    this.#backgroundError = backgroundError;
  }

  /** The newest schema version this code knows. */
  get latestVersion(): number {
    return this.#migrator.latestVersion;
  }

  /** The applied version (0 for an empty database). */
  async currentVersion(client: Queryable = this.#pool): Promise<number> {
    const { rows } = await client.query(this.#sql.migrationsTableExists, [`${quoteIdentifier(this.#schema)}.schema_migrations`]);
    if (!rows[0]?.present) return 0;
    return (await client.query(this.#sql.currentVersion)).rows[0]?.version ?? 0;
  }

  /** The check of a manual-mode driver: DriverError unless the schema is at the newest version. */
  async assertCurrent(): Promise<void> {
    this.#migrator.assertCurrent(await this.currentVersion());
  }

  /** Brings the schema to version `to` (default: the newest). */
  async migrate(to: number | undefined): Promise<MigrationResult> {
    const target = this.#migrator.target(to);
    // A connection the server ends (pg_terminate_backend, a restart) while it is checked out emits
    // 'error' besides failing its query; the broken client is destroyed, not returned to the pool.
    const { client, release } = await checkOut(this.#pool, (error) => this.#backgroundError('migrate connection', error));
    try {
      await client.query('BEGIN');
      await client.query(this.#sql.migrationLock, [`queuekit:migrate:${this.#schema}`]);
      const result = await this.#migrator.run(
        {
          currentVersion: () => this.currentVersion(client),
          createVersionTable: async () => {
            for (const statement of this.#sql.migrationsTable) await client.query(statement);
          },
          apply: async (migration) => {
            for (const statement of migration.statements) await client.query(statement);
            await client.query(this.#sql.recordMigration, [migration.version, migration.name]);
          },
        },
        target,
      );
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // The migration's own error is the one to report; a failed ROLLBACK means the connection went too.
      await client.query('ROLLBACK').catch((rollback: unknown) => this.#backgroundError('migrate rollback', rollback));
      throw error;
    } finally {
      release();
    }
  }
}
