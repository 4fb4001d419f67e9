import { defineJob } from '@queuekit/core';
import { createMemoryDriver } from '@queuekit/core/testing';
import { describe, expect, it } from 'vitest';
import { defineConfig, type QueueCliConfig } from '../src/index.js';

describe('defineConfig', () => {
  it('types a config with both kinds of connection and typed job definitions, and returns it unchanged', () => {
    const sendWelcome = defineJob('send-welcome', async (payload: { userId: string }) => payload.userId);
    const config = defineConfig({
      default: 'main',
      connections: {
        main: { driver: 'sqlite', filename: './queue.sqlite' },
        cache: { driver: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'app', queues: ['mail'] },
        custom: { driver: 'memory-from-code', create: () => createMemoryDriver() },
      },
      jobs: [sendWelcome, './more-jobs.js'],
      queues: ['default', 'mail'],
      worker: { concurrency: 4, logLevel: 'info' },
      health: { maxReady: 100, maxOldestAgeMs: 60_000 },
      rateLimits: { mail: { limit: 10, intervalMs: 1_000 } },
    });
    const asConfig: QueueCliConfig = config;
    expect(asConfig).toBe(config);
    expect(config.connections.cache.prefix).toBe('app');
  });
});
