import { fileURLToPath } from 'node:url';
import { createEnvelope } from '@queuekit/core';
import { describeDriverContract } from '@queuekit/driver-contract';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisDriver, queueKeys, RedisRateLimitStore } from '../src/index.js';
import { randomPrefix, randomQueue } from './helpers.js';
import { pushRaw } from './push-raw.js';
import { startTestCluster } from './redis-cluster.js';

// A real 3-master Redis Cluster on loopback ports, started for this file and torn down after it.
const cluster = await startTestCluster();
const nodes = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
const keyPrefix = randomPrefix();
process.env.QK_REDIS_TEST_PREFIX = keyPrefix;
process.env.QK_REDIS_TEST_CLUSTER_PORTS = cluster.ports.join(',');

afterAll(() => cluster.stop());

describeDriverContract({
  name: 'redis-cluster',
  createDriver: (settings) => createRedisDriver({ cluster: { nodes }, keyPrefix, maxMessageBytes: 256 * 1024, ...settings }),
  childDriverModule: fileURLToPath(new URL('./fixtures/child-driver.ts', import.meta.url)),
  pushRaw,
});

describe('redis cluster specifics', () => {
  it('spreads queues over the masters while each queue keeps to one slot', async () => {
    const client = new Cluster(nodes);
    try {
      const queues = Array.from({ length: 12 }, () => randomQueue());
      const slots = await Promise.all(
        queues.map(async (queue) => {
          const keys = Object.values(queueKeys(keyPrefix, queue));
          const perKey = await Promise.all(keys.map((key) => client.cluster('KEYSLOT', key) as Promise<number>));
          expect(new Set(perKey).size).toBe(1);
          return perKey[0];
        }),
      );
      expect(new Set(slots).size).toBeGreaterThan(1);
    } finally {
      client.disconnect();
    }
  });

  it('runs queues that live on different masters through one driver, blocking reserve included', async () => {
    const driver = createRedisDriver({ cluster: { nodes }, keyPrefix });
    try {
      const queues = Array.from({ length: 6 }, () => randomQueue());
      const waiting = driver.reserve(queues, { leaseMs: 10_000, waitMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await driver.push(queues.map((queue) => createEnvelope({ name: 'x', queue })));
      const first = await waiting;
      expect(first).toBeDefined();
      await driver.ack(first!);
      for (let i = 1; i < queues.length; i += 1) {
        const r = await driver.reserve(queues, { leaseMs: 10_000, waitMs: 0 });
        await driver.ack(r!);
      }
      expect(await driver.reserve(queues, { leaseMs: 10_000, waitMs: 0 })).toBeUndefined();
    } finally {
      await driver.close();
    }
  });

  it('shares a rate-limit bucket across two stores on the cluster', async () => {
    const [a, b] = [new RedisRateLimitStore({ cluster: { nodes }, keyPrefix }), new RedisRateLimitStore({ cluster: { nodes }, keyPrefix })];
    try {
      const rule = { limit: 3, intervalMs: 60_000 };
      const decisions = await Promise.all([a, b, a, b, a].map((s) => s.take('cluster-bucket', rule)));
      expect(decisions.filter((d) => d.granted)).toHaveLength(3);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
