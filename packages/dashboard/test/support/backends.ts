import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import {
  createEnvelope,
  type EnvelopeInit,
  type ErrorInfo,
  type JsonValue,
  type QueueDriver,
  QueueManager,
  type Reservation,
} from '@queuekit/core';
import { createMemoryDriver } from '@queuekit/core/testing';
import { createPostgresDriver, createSqliteDriver } from '@queuekit/driver-database';
import { createRedisDriver } from '@queuekit/driver-redis';
import pg from 'pg';
import type { DashboardHandler } from '../../src/index.js';

export const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const suffix = () => randomUUID().replace(/-/g, '').slice(0, 12);

/** A manager with one connection on a real backend, isolated by schema, key prefix or file. */
export interface BackendFixture {
  readonly name: 'postgres' | 'redis' | 'sqlite' | 'memory';
  readonly manager: QueueManager;
  cleanup(): Promise<void>;
}

/** Fresh fixtures per backend. */
export const BACKENDS: Record<BackendFixture['name'], () => BackendFixture> = {
  // core's reference driver: the only one that declares every job-state capability so far.
  memory: () => {
    const manager = new QueueManager({ connections: { main: { driver: 'memory', create: () => createMemoryDriver() } } });
    return { name: 'memory', manager, cleanup: () => manager.close() };
  },
  postgres: () => {
    const schema = `qkdash_${suffix()}`;
    const manager = new QueueManager({
      connections: { main: { driver: 'postgres', create: () => createPostgresDriver({ connectionString: POSTGRES_URL, schema }) } },
    });
    return {
      name: 'postgres',
      manager,
      async cleanup() {
        await manager.close();
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          await client.query(`drop schema if exists ${schema} cascade`);
        } finally {
          await client.end();
        }
      },
    };
  },
  redis: () => {
    const keyPrefix = `qkdash-${suffix()}`;
    const manager = new QueueManager({
      connections: { main: { driver: 'redis', create: () => createRedisDriver({ connection: REDIS_URL, keyPrefix }) } },
    });
    return {
      name: 'redis',
      manager,
      async cleanup() {
        const driver = await manager.connection();
        for (const queue of ['default', 'mail', 'reports', 'queuekit.workers']) {
          await driver.purge(queue);
          await driver.deadLetters.purge({ queue });
        }
        await manager.close();
      },
    };
  },
  sqlite: () => {
    const dir = mkdtempSync(join(tmpdir(), 'qkdash-'));
    const manager = new QueueManager({
      connections: { main: { driver: 'sqlite', create: () => createSqliteDriver({ filename: join(dir, 'queue.sqlite') }) } },
    });
    return {
      name: 'sqlite',
      manager,
      async cleanup() {
        await manager.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Pushes `count` ready jobs named `name` on `queue`; resolves their ids. */
export async function pushJobs(
  driver: QueueDriver,
  queue: string,
  name: string,
  count: number,
  payload: JsonValue = { n: 1 },
): Promise<string[]> {
  const envelopes = Array.from({ length: count }, () => createEnvelope({ name, queue, payload }));
  await driver.push(envelopes);
  return envelopes.map((e) => e.id);
}

/** Pushes one job and moves it to the dead-letter store with `error`, as a worker's last failed attempt would. */
export async function deadLetter(
  driver: QueueDriver,
  queue: string,
  name: string,
  error: ErrorInfo,
  payload: JsonValue = { n: 1 },
  extra: Partial<EnvelopeInit> = {},
): Promise<string> {
  const envelope = createEnvelope({ ...extra, name, queue, payload });
  await driver.push([envelope]);
  // Jobs queued ahead are held until ours comes up, then handed back unchanged.
  const held: Reservation[] = [];
  try {
    for (let i = 0; i < 10_000; i += 1) {
      const reservation = await driver.reserve([queue], { leaseMs: 30_000, waitMs: 200 });
      if (reservation === undefined) break;
      if (reservation.id !== envelope.id) {
        held.push(reservation);
        continue;
      }
      const now = Date.now();
      await driver.deadLetter(reservation, { reason: 'failed', error, attempts: 1, firstFailedAt: now, failedAt: now });
      return envelope.id;
    }
  } finally {
    if (held.length > 0) await driver.giveBack(held);
  }
  throw new Error(`could not reserve job ${envelope.id} to dead-letter it`);
}

/** Serves a dashboard handler on a free loopback port. */
export async function serveHandler(handler: DashboardHandler): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: handler, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
  });
}
