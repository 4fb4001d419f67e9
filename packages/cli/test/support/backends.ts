import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { QueueDriver } from '@queuekit/core';
import { createBeanstalkDriver } from '@queuekit/driver-beanstalk';
import { createPostgresDriver, createSqliteDriver } from '@queuekit/driver-database';
import { createRedisDriver } from '@queuekit/driver-redis';
import { Redis } from 'ioredis';
import pg from 'pg';

export const REDIS_URL = 'redis://127.0.0.1:6379';
export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const BEANSTALK_URL = process.env.BEANSTALK_URL ?? 'beanstalk://127.0.0.1:11300';

/** A backend under test: the connection object written into the config, and its cleanup. */
export interface BackendFixture {
  readonly name: 'sqlite' | 'redis' | 'postgres' | 'beanstalk';
  /** Source of the connection object literal for queue.config.mjs. */
  readonly connection: string;
  /** A driver on the same backend as the connection (the config living in `dir`), for a test to look behind the CLI. */
  openDriver(dir: string): QueueDriver;
  cleanup(): Promise<void>;
}

const suffix = () => randomUUID().replace(/-/g, '').slice(0, 12);

/** A fresh, isolated connection for each backend: its own SQLite file, Redis prefix or PostgreSQL schema. */
export const BACKENDS: Record<BackendFixture['name'], () => BackendFixture> = {
  sqlite: () => ({
    name: 'sqlite',
    // Relative to the config file, which lives in the test's own temp dir (removed with it).
    connection: `{ driver: 'sqlite', filename: './queue.sqlite' }`,
    openDriver: (dir) => createSqliteDriver({ filename: join(dir, 'queue.sqlite') }),
    cleanup: async () => {},
  }),
  redis: () => {
    const prefix = `qkcli-${suffix()}`;
    return {
      name: 'redis',
      connection: `{ driver: 'redis', url: '${REDIS_URL}', prefix: '${prefix}' }`,
      openDriver: () => createRedisDriver({ connection: REDIS_URL, keyPrefix: prefix }),
      async cleanup() {
        const client = new Redis(REDIS_URL, { lazyConnect: true });
        await client.connect();
        try {
          let cursor = '0';
          for (let i = 0; i < 1_000; i += 1) {
            const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
            if (keys.length > 0) await client.del(...keys);
            cursor = next;
            if (cursor === '0') break;
          }
        } finally {
          client.disconnect();
        }
      },
    };
  },
  beanstalk: beanstalkFixture,
  postgres: () => {
    const schema = `qkcli_${suffix()}`;
    return {
      name: 'postgres',
      connection: `{ driver: 'postgres', url: '${POSTGRES_URL}', schema: '${schema}' }`,
      openDriver: () => createPostgresDriver({ connectionString: POSTGRES_URL, schema }),
      async cleanup() {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  },
};

/** A fixture on beanstalkd: its own tube prefix; cleanup empties every tube under it and its dead letters. */
function beanstalkFixture(): BackendFixture {
  const tubePrefix = `qkcli-${suffix()}.`;
  return {
    name: 'beanstalk',
    connection: `{ driver: 'beanstalk', url: '${BEANSTALK_URL}', tubePrefix: '${tubePrefix}' }`,
    openDriver: () => createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix }),
    async cleanup() {
      const driver = createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix });
      try {
        await driver.deadLetters.purge();
        for (const queue of ['default', 'mail', 'reports', 'work', 'slow', 'other']) await driver.purge(queue);
      } finally {
        await driver.close();
      }
    },
  };
}

/** A loopback TCP port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * queue.config.mjs with jobs that leave traces in the config's directory: `record` appends its
 * payload to ran.log, `fail` always throws, `slow` writes started-<id>, sleeps payload.ms, writes finished-<id>.
 */
export function configSource(connection: string, extra = ''): string {
  return `import { appendFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineJob } from '@queuekit/core';

const dir = fileURLToPath(new URL('.', import.meta.url));
export const record = defineJob('record', async (payload, ctx) => {
  appendFileSync(dir + 'ran.log', JSON.stringify({ id: ctx.id, payload }) + '\\n');
  return payload;
});
export const fail = defineJob('fail', async () => {
  throw new Error('always fails');
});
export const slow = defineJob('slow', async (payload, ctx) => {
  writeFileSync(dir + 'started-' + ctx.id, '');
  await new Promise((resolve) => setTimeout(resolve, payload.ms));
  writeFileSync(dir + 'finished-' + ctx.id, '');
  return 'slept';
});

export default {
  default: 'main',
  connections: { main: ${connection} },
  jobs: [record, fail, slow],
  queues: ['default'],
  ${extra}
};
`;
}
