import type { SchemaMigrationResult } from '@queuekit/core';

/** One versioned schema step. */
export interface Migration {
  /** Strictly increasing from 1. */
  readonly version: number;
  /** Short kebab-case description, stored with the applied version. */
  readonly name: string;
  /** DDL statements applied in one transaction. */
  readonly statements: readonly string[];
}

/** What {@link PostgresDriver.migrate} / {@link SqliteDriver.migrate} did (core's SchemaMigrationResult). */
export type MigrationResult = SchemaMigrationResult;

/** Options of `migrate()`. */
export interface MigrateOptions {
  /** Stop at this version instead of the newest (for staged upgrades and tests). */
  readonly to?: number;
}
