import type { RetentionOptions } from '@queuekit/core';
import type { PostgresDriver, SqliteDriver } from '../src/index.js';
import { createPostgresDriver, createSqliteDriver } from '../src/index.js';
import { DATABASE_URL, dropSchema, pushRawPostgres, pushRawSqlite, randomSchema, tempDir } from './helpers.js';

/** One dialect under test: makes drivers on an isolated schema / file and removes it afterwards. */
export interface Dialect {
  readonly name: 'postgres' | 'sqlite';
  /** A driver on this test's schema or file. */
  open(options?: { migrate?: 'auto' | 'manual'; retention?: RetentionOptions; pollIntervalMs?: number }): PostgresDriver | SqliteDriver;
  /** Stores an undecodable body in `queue`; returns its job id. */
  pushRaw(queue: string, raw: string): Promise<string>;
  /** Closes every driver opened and drops the schema / deletes the file. */
  cleanup(): Promise<void>;
}

/** Both dialects, each on a fresh random schema (PostgreSQL) or temporary file (SQLite). */
export const DIALECTS: readonly { readonly name: 'postgres' | 'sqlite'; readonly setup: () => Dialect }[] = [
  {
    name: 'postgres',
    setup: () => {
      const schema = randomSchema();
      const drivers: PostgresDriver[] = [];
      return {
        name: 'postgres',
        open: (options = {}) => {
          const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema, pollIntervalMs: 100, ...options });
          drivers.push(driver);
          return driver;
        },
        pushRaw: (queue, raw) => pushRawPostgres(schema, queue, raw),
        cleanup: async () => {
          await Promise.allSettled(drivers.map((d) => d.close()));
          await dropSchema(schema);
        },
      };
    },
  },
  {
    name: 'sqlite',
    setup: () => {
      const dir = tempDir();
      const drivers: SqliteDriver[] = [];
      return {
        name: 'sqlite',
        open: (options = {}) => {
          const driver = createSqliteDriver({ filename: dir.file(), pollIntervalMs: 20, ...options });
          drivers.push(driver);
          return driver;
        },
        pushRaw: async (queue, raw) => pushRawSqlite(dir.file(), 'queuekit_', queue, raw),
        cleanup: async () => {
          await Promise.allSettled(drivers.map((d) => d.close()));
          dir.remove();
        },
      };
    },
  },
];
