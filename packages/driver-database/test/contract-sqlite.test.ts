import { fileURLToPath } from 'node:url';
import { describeDriverContract } from '@queuekit/driver-contract';
import { afterAll } from 'vitest';
import type { SqliteDriver } from '../src/index.js';
import { createDriver } from './fixtures/sqlite-child-driver.js';
import { pushRawSqlite, tempDir } from './helpers.js';

// One temporary file for this file; child processes of the crash tests inherit it through the env.
const dir = tempDir();
process.env.QUEUEKIT_TEST_SQLITE_FILE = dir.file();
afterAll(() => dir.remove());

describeDriverContract({
  name: 'sqlite',
  createDriver,
  childDriverModule: fileURLToPath(new URL('./fixtures/sqlite-child-driver.ts', import.meta.url)),
  pushRaw: async (driver, queue, raw) => {
    await driver.ping();
    const sqlite = driver as SqliteDriver;
    return pushRawSqlite(sqlite.filename as string, sqlite.tablePrefix, queue, raw);
  },
});
