import { fileURLToPath } from 'node:url';
import { describeDriverContract } from '@queuekit/driver-contract';
import { afterAll } from 'vitest';
import type { PostgresDriver } from '../src/index.js';
import { createDriver } from './fixtures/postgres-child-driver.js';
import { dropSchema, pushRawPostgres, randomSchema } from './helpers.js';

// One random schema for this file; child processes of the crash tests inherit it through the env.
const schema = randomSchema();
process.env.QUEUEKIT_TEST_SCHEMA = schema;
afterAll(() => dropSchema(schema));

describeDriverContract({
  name: 'postgres',
  createDriver,
  childDriverModule: fileURLToPath(new URL('./fixtures/postgres-child-driver.ts', import.meta.url)),
  pushRaw: async (driver, queue, raw) => {
    await driver.ping();
    return pushRawPostgres((driver as PostgresDriver).schema, queue, raw);
  },
});
