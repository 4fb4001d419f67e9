/**
 * What claiming group by group costs: the Worker at concurrency 50 over jobs spread across 1,000
 * groups (`groups: { concurrency: 1 }`: turns between the groups, at most one active job per group),
 * beside the same driver over the same jobs without groups. Run by bench/ab.ts, one system per
 * fresh process:
 *
 *   pnpm --filter @queuekit/bench ab groups --rounds 3 [--jobs 20000] [--groups 1000] [--concurrency 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueDriver } from '@queuekit/core';
import * as core from '@queuekit/core';
import { createPostgresDriver, createSqliteDriver } from '@queuekit/driver-database';
import { createRedisDriver } from '@queuekit/driver-redis';
import pg from 'pg';
import { type BenchRow, flag, localServerCpu, type ServerCpu } from '../lib.js';
import { type BenchSystem, queuekitSystem, tag } from '../queuekit-system.js';
import { deleteKeys } from '../redis-keys.js';

/** Settings of the suite, from its command-line flags. */
export interface Settings {
  readonly jobs: number;
  readonly groups: number;
  readonly concurrency: number;
  readonly redisUrl: string;
  readonly postgresUrl: string;
}

/** Reads the suite's flags. */
export function parse(args: string[]): Settings {
  return {
    jobs: Number(flag(args, '--jobs') ?? 20_000),
    groups: Number(flag(args, '--groups') ?? 1_000),
    concurrency: Number(flag(args, '--concurrency') ?? 50),
    redisUrl: flag(args, '--redis-url') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    postgresUrl: flag(args, '--postgres-url') ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  };
}

/** One backend under the Worker, without groups or with its jobs spread over `settings.groups` groups. */
function system(
  name: string,
  open: () => QueueDriver,
  cleanup: () => Promise<void>,
  settings: Settings,
  serverCpu?: ServerCpu,
): BenchSystem {
  const grouped = name.endsWith('-groups');
  const variant = grouped ? { group: (i: number) => `g${i % settings.groups}`, worker: { groups: { concurrency: 1 } } } : {};
  return queuekitSystem(name, open, cleanup, core, serverCpu, variant);
}

/** The systems bench/ab.ts runs: each backend without groups, and with 1,000 groups. */
export function makeSystem(name: string, settings: Settings): BenchSystem {
  const backend = name.replace(/-groups$/, '');
  switch (backend) {
    case 'redis': {
      const keyPrefix = `qkgroups-${tag()}`;
      return system(
        name,
        () => createRedisDriver({ connection: settings.redisUrl, keyPrefix }),
        () => deleteKeys(settings.redisUrl, `${keyPrefix}*`),
        settings,
        localServerCpu(Number(new URL(settings.redisUrl).port || 6379)),
      );
    }
    case 'postgres': {
      const schema = `qkgroups_${tag()}`;
      return system(
        name,
        () => createPostgresDriver({ connectionString: settings.postgresUrl, schema, poolSize: 20 }),
        async () => {
          const client = new pg.Client({ connectionString: settings.postgresUrl });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await client.end();
        },
        settings,
        localServerCpu(Number(new URL(settings.postgresUrl).port || 5432)),
      );
    }
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'qkgroups-'));
      return system(
        name,
        () => createSqliteDriver({ filename: join(dir, 'bench.sqlite') }),
        async () => rmSync(dir, { recursive: true, force: true }),
        settings,
      );
    }
    default:
      throw new Error(`groups bench: no system ${JSON.stringify(name)}`);
  }
}

/** One round of one system: a warm-up, then the figures. */
export async function measure(s: BenchSystem, settings: Settings): Promise<BenchRow> {
  await s.process(1_000, settings.concurrency);
  const jps = await s.process(settings.jobs, settings.concurrency);
  const { clientUs, serverUs } = s.lastProcessCost?.() ?? { clientUs: Number.NaN, serverUs: Number.NaN };
  return { system: s.name, [`process${settings.concurrency}Jps`]: jps, clientUs, serverUs };
}
