import type Database from 'better-sqlite3';
import type { MigrationResult } from './migration.js';
import { Migrator } from './migrator.js';
import type { SqliteSql } from './sql/sqlite-sql.js';

/**
 * The versioned tables of one SQLite table prefix: the shared migration flow ({@link Migrator}) run
 * inside BEGIN IMMEDIATE, so concurrent migrators (other processes on the file) apply each step once.
 */
export class SqliteSchema {
  readonly #sql: SqliteSql;
  readonly #prefix: string;
  readonly #migrator: Migrator;

  /** `prefix` must already be validated. */
  constructor(sql: SqliteSql, prefix: string) {
    this.#sql = sql;
    this.#prefix = prefix;
    this.#migrator = new Migrator({ dialect: 'sqlite', subject: `the schema of tables "${prefix}*"`, migrations: sql.migrations });
  }

  /** The newest schema version this code knows. */
  get latestVersion(): number {
    return this.#migrator.latestVersion;
  }

  /** The applied version (0 for an empty file). */
  currentVersion(db: Database.Database): number {
    const present = db.prepare(this.#sql.migrationsTableExists).get({ name: `${this.#prefix}schema_migrations` }) as { present: number };
    if (present.present === 0) return 0;
    return (db.prepare(this.#sql.currentVersion).get() as { version: number }).version;
  }

  /** The check of a manual-mode driver: DriverError unless the tables are at the newest version. */
  assertCurrent(db: Database.Database): void {
    this.#migrator.assertCurrent(this.currentVersion(db));
  }

  /** Brings the tables to version `to` (default: the newest) in one BEGIN IMMEDIATE transaction. */
  migrate(db: Database.Database, to: number | undefined): MigrationResult {
    const target = this.#migrator.target(to);
    return db
      .transaction(() =>
        this.#migrator.runSync(
          {
            currentVersion: () => this.currentVersion(db),
            createVersionTable: () => db.exec(this.#sql.migrationsTable),
            apply: (migration) => {
              for (const statement of migration.statements) db.exec(statement);
              db.prepare(this.#sql.recordMigration).run({ version: migration.version, name: migration.name, now: Date.now() });
            },
          },
          target,
        ),
      )
      .immediate();
  }
}
