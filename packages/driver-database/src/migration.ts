/** One versioned schema step. */
export interface Migration {
  /** Strictly increasing from 1. */
  readonly version: number;
  /** Short kebab-case description, stored with the applied version. */
  readonly name: string;
  /** DDL statements applied in one transaction. */
  readonly statements: readonly string[];
}

/** What {@link PostgresDriver.migrate} / {@link SqliteDriver.migrate} did. */
export interface MigrationResult {
  /** Schema version found before migrating (0 for an empty database). */
  readonly from: number;
  /** Schema version after migrating. */
  readonly to: number;
  /** Versions applied by this call, in order; empty when the schema was already current. */
  readonly applied: readonly number[];
}

/** Options of `migrate()`. */
export interface MigrateOptions {
  /** Stop at this version instead of the newest (for staged upgrades and tests). */
  readonly to?: number;
}
