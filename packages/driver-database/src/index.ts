export { IDENTIFIER_PATTERN } from './identifier.js';
export type { MigrateOptions, MigrationResult } from './migration.js';
export { createPostgresDriver, PostgresDriver } from './postgres-driver.js';
export type { PostgresDriverOptions } from './postgres-options.js';
export { type PostgresExecutor, PostgresRateLimitStore } from './postgres-rate-limit-store.js';
export { createSqliteDriver, SqliteDriver } from './sqlite-driver.js';
export type { SqliteDriverOptions } from './sqlite-options.js';
export { type SqliteExecutor, SqliteRateLimitStore } from './sqlite-rate-limit-store.js';
