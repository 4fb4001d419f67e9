import { fileURLToPath } from 'node:url';
import { describeDriverContract } from '@queuekit/driver-contract';
import { afterAll } from 'vitest';
import { createRedisDriver } from '../src/index.js';
import { deletePrefix, REDIS_URL, randomPrefix } from './helpers.js';
import { pushRaw } from './push-raw.js';

// One prefix for the file, like one backend; each test gets a fresh driver and random queues. The
// crash tests' child processes find the prefix in the environment they inherit.
const keyPrefix = randomPrefix();
process.env.QK_REDIS_TEST_PREFIX = keyPrefix;
process.env.QK_REDIS_TEST_CLUSTER_PORTS = '';

afterAll(() => deletePrefix(keyPrefix));

describeDriverContract({
  name: 'redis',
  createDriver: (settings) => createRedisDriver({ connection: REDIS_URL, keyPrefix, maxMessageBytes: 256 * 1024, ...settings }),
  childDriverModule: fileURLToPath(new URL('./fixtures/child-driver.ts', import.meta.url)),
  pushRaw,
});
