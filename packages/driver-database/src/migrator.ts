import { DriverError, InvalidArgumentError, quoteInput } from '@queuekit/core';
import type { Migration, MigrationResult } from './migration.js';

/** What the migration flow needs to know about one dialect's schema. */
export interface MigrationDialect {
  /** The dialect name errors start with. */
  readonly dialect: 'postgres' | 'sqlite';
  /** How errors name the migrated objects, e.g. `schema "queuekit"` or `tables "queuekit_*"`. */
  readonly subject: string;
  /** Every schema step, oldest first. */
  readonly migrations: readonly Migration[];
}

/**
 * The steps of one migration run, on a connection that is already inside the dialect's exclusive
 * transaction (PostgreSQL: BEGIN plus an advisory lock). SQLite's synchronous client uses
 * {@link SyncMigrationSession} inside BEGIN IMMEDIATE.
 */
export interface MigrationSession {
  /** The newest applied version, 0 when the version table does not exist yet. */
  currentVersion(): Promise<number>;
  /** Creates the version table (and schema) when missing; idempotent. */
  createVersionTable(): Promise<void>;
  /** Runs one step's statements and records its version. */
  apply(migration: Migration): Promise<void>;
}

/** {@link MigrationSession} of a synchronous client. */
export interface SyncMigrationSession {
  /** The newest applied version, 0 when the version table does not exist yet. */
  currentVersion(): number;
  /** Creates the version table when missing; idempotent. */
  createVersionTable(): void;
  /** Runs one step's statements and records its version. */
  apply(migration: Migration): void;
}

/**
 * The migration flow both dialects share: which target a call may ask for, refusing a schema newer
 * than the code, applying the missing steps in order, and the error of a manual-mode driver whose
 * schema is not current. The dialect only opens the transaction and runs statements.
 */
export class Migrator {
  readonly #dialect: MigrationDialect;

  constructor(dialect: MigrationDialect) {
    this.#dialect = dialect;
  }

  /** The newest schema version this code knows. */
  get latestVersion(): number {
    const { migrations } = this.#dialect;
    return migrations[migrations.length - 1]?.version ?? 0;
  }

  /** The version `migrate({ to })` brings the schema to; InvalidArgumentError outside 0..latest. */
  target(to: number | undefined): number {
    const target = to ?? this.latestVersion;
    if (!Number.isInteger(target) || target < 0 || target > this.latestVersion) {
      throw new InvalidArgumentError(
        `${this.#dialect.dialect}: migrate: options.to: expected an integer 0..${this.latestVersion}, got ${quoteInput(to)}`,
      );
    }
    return target;
  }

  /** Migrates to `target` through an asynchronous session (inside the caller's transaction). */
  async run(session: MigrationSession, target: number): Promise<MigrationResult> {
    const from = await session.currentVersion();
    const steps = this.#steps(from, target);
    if (steps.length > 0) await session.createVersionTable();
    for (const step of steps) await session.apply(step);
    return this.#result(from, target, steps);
  }

  /** Migrates to `target` through a synchronous session (inside the caller's transaction). */
  runSync(session: SyncMigrationSession, target: number): MigrationResult {
    const from = session.currentVersion();
    const steps = this.#steps(from, target);
    if (steps.length > 0) session.createVersionTable();
    for (const step of steps) session.apply(step);
    return this.#result(from, target, steps);
  }

  /** Throws the DriverError of a manual-mode driver unless `version` is the newest one. */
  assertCurrent(version: number): void {
    const latest = this.latestVersion;
    if (version === latest) return;
    throw new DriverError(
      `${this.#dialect.dialect}: ${this.#dialect.subject} is at version ${version} but this code needs version ${latest}; ` +
        `run \`queue migrate\` (driver.migrate()) first${version > latest ? ' — the database is newer than the code: upgrade @queuekit/driver-database' : ''}`,
    );
  }

  /** The steps above `from` up to `target`; DriverError when the schema is newer than the code. */
  #steps(from: number, target: number): Migration[] {
    if (from > this.latestVersion) {
      throw new DriverError(
        `${this.#dialect.dialect}: ${this.#dialect.subject} is at version ${from}, newer than the newest this code knows (${this.latestVersion}); upgrade @queuekit/driver-database`,
      );
    }
    return this.#dialect.migrations.filter((migration) => migration.version > from && migration.version <= target);
  }

  #result(from: number, target: number, steps: readonly Migration[]): MigrationResult {
    return { from, to: Math.max(from, target), applied: steps.map((step) => step.version) };
  }
}
