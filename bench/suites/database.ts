import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@queuekit/core';
import * as driverDatabase from '@queuekit/driver-database';
import { createPostgresDriver } from '@queuekit/driver-database';
import { Worker as BullWorker, Queue } from 'bullmq';
import { makeWorkerUtils, run as runGraphile } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { type BenchRow, flag, localServerCpu, nowMs, percentile, processCost, report, sleep } from '../lib.js';
import { type BenchSystem, type CoreModule, payload, pushSpaced, queuekitSystem, tag, until } from '../queuekit-system.js';

// BullMQ's PostgreSQL backend loads `pg` with require(), which its ESM build cannot do: use the CommonJS build.
const { createPostgresBackend } = createRequire(import.meta.url)(
  'bullmq/dist/cjs/postgres/index.js',
) as typeof import('bullmq/dist/esm/postgres/index.js');

/** Settings of the suite, from its command-line flags. */
export interface Settings {
  readonly jobs: number;
  readonly latencyJobs: number;
  readonly url: string;
  readonly only: readonly string[] | undefined;
}

/** A system under test; every peer here measures latency at a given concurrency. */
export type System = Omit<BenchSystem, 'latency'> & { latency(count: number, concurrency: number): Promise<number[]> };

/** Reads the suite's flags. */
export function parse(args: string[]): Settings {
  const value = (name: string) => flag(args, name);
  return {
    jobs: Number(value('--jobs') ?? 10_000),
    latencyJobs: Number(value('--latency-jobs') ?? 1_000),
    url: value('--url') ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    only: value('--only')?.split(','),
  };
}

async function execute(url: string, text: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** The builds a queuekit system runs: this checkout's by default, or another checkout's (bench/ab.ts). */
export interface DatabaseModules {
  readonly core: CoreModule;
  readonly driver: Pick<typeof driverDatabase, 'createPostgresDriver' | 'createSqliteDriver'>;
}

const thisCheckout: DatabaseModules = { core, driver: driverDatabase };

function queuekitPostgres(settings: Settings, modules = thisCheckout, keepNone = false): System {
  const schema = `qkbench_${tag()}`;
  return queuekitSystem(
    keepNone ? 'queuekit-postgres-keep-none' : 'queuekit-postgres',
    () =>
      modules.driver.createPostgresDriver({
        connectionString: settings.url,
        schema,
        poolSize: 20,
        ...(keepNone ? { retention: false as const } : {}),
      }),
    async () => {
      await execute(settings.url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
    modules.core,
    localServerCpu(Number(new URL(settings.url).port || 5432)),
  );
}

function queuekitSqlite(modules = thisCheckout, keepNone = false): System {
  const dir = mkdtempSync(join(tmpdir(), 'qkbench-'));
  return queuekitSystem(
    keepNone ? 'queuekit-sqlite-keep-none' : 'queuekit-sqlite',
    () => modules.driver.createSqliteDriver({ filename: join(dir, 'bench.sqlite'), ...(keepNone ? { retention: false as const } : {}) }),
    async () => rmSync(dir, { recursive: true, force: true }),
    modules.core,
  );
}

/** The systems bench/ab.ts can run one at a time: queuekit's two (with the given builds) and the peers. */
export function makeSystem(name: string, settings: Settings, modules?: DatabaseModules): System {
  switch (name) {
    case 'queuekit-postgres':
      return queuekitPostgres(settings, modules);
    case 'queuekit-sqlite':
      return queuekitSqlite(modules);
    // The same drivers keeping no completed jobs: what the default retention costs.
    case 'queuekit-postgres-keep-none':
      return queuekitPostgres(settings, modules, true);
    case 'queuekit-sqlite-keep-none':
      return queuekitSqlite(modules, true);
    case 'bullmq-postgres':
      return bullmqPostgres(settings);
    case 'graphile-worker':
      return graphileWorker(settings, false);
    case 'graphile-worker-tuned':
      return graphileWorker(settings, true);
    case 'pg-boss':
      return pgBoss(settings);
    default:
      throw new Error(`database bench: no system ${JSON.stringify(name)}`);
  }
}

function bullmqPostgres(settings: Settings): System {
  const schema = `bullbench_${tag()}`;
  const connection = { connectionString: settings.url, schema, migrate: true };
  const queues: Queue[] = [];
  const open = async (name: string): Promise<Queue> => {
    const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } }, createPostgresBackend);
    queues.push(queue as unknown as Queue);
    await queue.waitUntilReady();
    return queue as unknown as Queue;
  };
  const bulk = (offset: number, count: number) => Array.from({ length: count }, (_, j) => ({ name: 'noop', data: payload(offset + j) }));
  return {
    name: 'bullmq-postgres',
    async enqueueSingle(count) {
      const queue = await open(`single-${tag()}`);
      const started = nowMs();
      for (let i = 0; i < count; i += 1) await queue.add('noop', payload(i));
      return count / ((nowMs() - started) / 1000);
    },
    async enqueueBulk(count) {
      const queue = await open(`bulk-${tag()}`);
      const started = nowMs();
      for (let i = 0; i < count; i += 1_000) await queue.addBulk(bulk(i, Math.min(1_000, count - i)));
      return count / ((nowMs() - started) / 1000);
    },
    async process(count, concurrency) {
      const name = `process-${tag()}`;
      const queue = await open(name);
      for (let i = 0; i < count; i += 1_000) await queue.addBulk(bulk(i, Math.min(1_000, count - i)));
      let first = 0;
      let last = 0;
      let done = 0;
      const worker = new BullWorker(
        name,
        async () => {
          if (first === 0) first = nowMs();
        },
        { connection, concurrency, autorun: false },
        createPostgresBackend,
      );
      worker.on('completed', () => {
        done += 1;
        last = nowMs();
      });
      void worker.run();
      await until(() => done >= count, 600_000, 'BullMQ-PostgreSQL processing');
      await worker.close();
      return count / ((last - first) / 1000);
    },
    async latency(count, concurrency) {
      const name = `latency-${tag()}`;
      const queue = await open(name);
      const latencies: number[] = [];
      const worker = new BullWorker(
        name,
        async (job) => {
          latencies.push(nowMs() - (job.data as { sentAt: number }).sentAt);
        },
        { connection, concurrency, autorun: false },
        createPostgresBackend,
      );
      void worker.run();
      await worker.waitUntilReady();
      await sleep(300);
      await pushSpaced(
        count,
        (i) => queue.add('noop', { sentAt: nowMs(), ...payload(i) }),
        () => latencies.length,
        'BullMQ-PostgreSQL latency run',
      );
      await worker.close();
      return latencies;
    },
    async cleanup() {
      for (const queue of queues) await queue.close().catch(() => undefined);
      await execute(settings.url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

/**
 * graphile-worker at its defaults, or `tuned`: with its batching features, a local queue (fetch and
 * lock many jobs at once) and batched completion.
 */
function graphileWorker(settings: Settings, tuned: boolean): System {
  const schema = `graphilebench_${tag()}`;
  let utils: Awaited<ReturnType<typeof makeWorkerUtils>> | undefined;
  const getUtils = async () => {
    utils ??= await makeWorkerUtils({ connectionString: settings.url, schema });
    await utils.migrate();
    return utils;
  };
  const start = (concurrency: number, task: (data: unknown) => void) =>
    runGraphile({
      connectionString: settings.url,
      schema,
      concurrency,
      noHandleSignals: true,
      pollInterval: 1_000,
      taskList: { noop: async (data) => task(data) },
      ...(tuned ? { preset: { worker: { localQueue: { size: concurrency + 1 }, completeJobBatchDelay: 0 } } } : {}),
      logger: silentLogger,
    });
  return {
    name: tuned ? 'graphile-worker-tuned' : 'graphile-worker',
    async enqueueSingle(count) {
      const u = await getUtils();
      const queue = `single_${tag()}`;
      const started = nowMs();
      for (let i = 0; i < count; i += 1) await u.addJob('noop', payload(i), { queueName: queue });
      const jps = count / ((nowMs() - started) / 1000);
      await u.withPgClient((client) => client.query(`DELETE FROM "${schema}"._private_jobs`));
      return jps;
    },
    async enqueueBulk(count) {
      const u = await getUtils();
      const started = nowMs();
      for (let i = 0; i < count; i += 1_000) {
        await u.addJobs(Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ identifier: 'noop', payload: payload(i + j) })));
      }
      const jps = count / ((nowMs() - started) / 1000);
      await u.withPgClient((client) => client.query(`DELETE FROM "${schema}"._private_jobs`));
      return jps;
    },
    async process(count, concurrency) {
      const u = await getUtils();
      for (let i = 0; i < count; i += 1_000) {
        await u.addJobs(Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ identifier: 'noop', payload: payload(i + j) })));
      }
      let first = 0;
      let last = 0;
      let done = 0;
      const runner = await start(concurrency, () => {
        if (first === 0) first = nowMs();
      });
      runner.events.on('job:success', () => {
        done += 1;
        last = nowMs();
      });
      await until(() => done >= count, 600_000, 'graphile-worker processing');
      await runner.stop();
      return count / ((last - first) / 1000);
    },
    async latency(count, concurrency) {
      const u = await getUtils();
      const latencies: number[] = [];
      const runner = await start(concurrency, (data) => {
        latencies.push(nowMs() - (data as { sentAt: number }).sentAt);
      });
      await sleep(300);
      await pushSpaced(
        count,
        (i) => u.addJob('noop', { sentAt: nowMs(), ...payload(i) }),
        () => latencies.length,
        'graphile-worker latency run',
      );
      await runner.stop();
      return latencies;
    },
    async cleanup() {
      await utils?.release();
      await execute(settings.url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

const silentLogger = new (await import('graphile-worker')).Logger(() => () => undefined);

function pgBoss(settings: Settings): System {
  const schema = `pgbossbench_${tag()}`;
  let boss: PgBoss | undefined;
  const getBoss = async () => {
    if (boss === undefined) {
      boss = new PgBoss({ connectionString: settings.url, schema, max: 20, supervise: false, schedule: false });
      boss.on('error', () => undefined);
      await boss.start();
    }
    return boss;
  };
  const createQueue = async () => {
    const b = await getBoss();
    const name = `q_${tag()}`;
    await b.createQueue(name);
    return name;
  };
  const insert = async (b: PgBoss, name: string, count: number) => {
    for (let i = 0; i < count; i += 1_000) {
      await b.insert(Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ name, data: payload(i + j) })));
    }
  };
  // pg-boss 10 has no concurrency option, and each work() loop waits its polling interval (0.5 s
  // at least) after every fetch: one fetch of `batchSize` jobs per interval. So one work() loop
  // fetching 50 at a time, running them one after another (concurrency 1) or all at once (50).
  const work = (b: PgBoss, name: string, concurrency: number, handler: (data: unknown) => void) =>
    b.work(name, { batchSize: 50, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      if (concurrency === 1) {
        for (const job of jobs) await handler(job.data);
      } else {
        await Promise.all(jobs.map(async (job) => handler(job.data)));
      }
    });
  return {
    name: 'pg-boss',
    async enqueueSingle(count) {
      const b = await getBoss();
      const name = await createQueue();
      const started = nowMs();
      for (let i = 0; i < count; i += 1) await b.send(name, payload(i));
      return count / ((nowMs() - started) / 1000);
    },
    async enqueueBulk(count) {
      const b = await getBoss();
      const name = await createQueue();
      const started = nowMs();
      await insert(b, name, count);
      return count / ((nowMs() - started) / 1000);
    },
    async process(count, concurrency) {
      const b = await getBoss();
      const name = await createQueue();
      await insert(b, name, count);
      let first = 0;
      let last = 0;
      let done = 0;
      const id = await work(b, name, concurrency, () => {
        if (first === 0) first = nowMs();
        done += 1;
        last = nowMs();
      });
      await until(() => done >= count, 600_000, 'pg-boss processing');
      await b.offWork({ id });
      return count / ((last - first) / 1000);
    },
    async latency(count, concurrency) {
      const b = await getBoss();
      const name = await createQueue();
      const latencies: number[] = [];
      const id = await work(b, name, concurrency, (data) => {
        latencies.push(nowMs() - (data as { sentAt: number }).sentAt);
      });
      await sleep(300);
      await pushSpaced(
        count,
        (i) => b.send(name, { sentAt: nowMs(), ...payload(i) }),
        () => latencies.length,
        'pg-boss latency run',
      );
      await b.offWork({ id });
      return latencies;
    },
    async cleanup() {
      await boss?.stop({ graceful: false, wait: true }).catch(() => undefined);
      await execute(settings.url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

/** Every figure of one system in one round (after a short warm-up). */
export async function measure(system: System, settings: Settings): Promise<BenchRow> {
  // A short warm-up so no system pays for JIT compilation, migrations or prepared plans in the figures.
  await system.enqueueBulk(500);
  await system.process(500, 10);
  const enqueueSingleJps = await system.enqueueSingle(settings.jobs);
  const enqueueBulkJps = await system.enqueueBulk(settings.jobs);
  const process1Jps = await system.process(settings.jobs, 1);
  const cost1 = system.lastProcessCost?.();
  const process50Jps = await system.process(settings.jobs, 50);
  const cost50 = system.lastProcessCost?.();
  const c1 = await system.latency(settings.latencyJobs, 1);
  const c50 = await system.latency(settings.latencyJobs, 50);
  return {
    system: system.name,
    enqueueSingleJps,
    enqueueBulkJps,
    process1Jps,
    process50Jps,
    ...processCost(cost1, cost50),
    p50Ms: percentile(c1, 50),
    p95Ms: percentile(c1, 95),
    p99Ms: percentile(c1, 99),
    c50p50Ms: percentile(c50, 50),
    c50p95Ms: percentile(c50, 95),
    c50p99Ms: percentile(c50, 99),
  };
}

/** Prints EXPLAIN of queuekit's claim on a schema holding 1,000,000 queued jobs. */
async function claimPlan(settings: Settings): Promise<void> {
  const schema = `qkplan_${tag()}`;
  const driver = createPostgresDriver({ connectionString: settings.url, schema });
  await driver.migrate();
  await driver.close();
  const client = new pg.Client({ connectionString: settings.url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO "${schema}".jobs (job_id, queue, priority, available_at, body)
       SELECT 'job-' || g, 'bulk', g % 3, now(), '{}' FROM generate_series(1, 1000000) g`,
    );
    await client.query(`ANALYZE "${schema}".jobs`);
    const { rows } = await client.query(
      `EXPLAIN (ANALYZE, COSTS OFF, TIMING ON)
       SELECT seq FROM "${schema}".jobs
       WHERE queue = 'bulk' AND available_at <= now() AND (reserved_until IS NULL OR reserved_until <= now())
       ORDER BY priority, seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
    );
    console.log('\nqueuekit claim with 1,000,000 jobs queued:');
    for (const row of rows) console.log(`  ${row['QUERY PLAN']}`);
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

/** Runs the suite: every system, one after the other, against the same PostgreSQL. */
export async function run(args: string[]): Promise<void> {
  const settings = parse(args);
  console.log(`database bench: ${settings.jobs} jobs, ${settings.latencyJobs} latency jobs, ${settings.url.replace(/\/\/[^@]*@/, '//')}`);
  const makers: [string, () => System][] = [
    ['queuekit-postgres', () => queuekitPostgres(settings)],
    ['queuekit-sqlite', () => queuekitSqlite()],
    ['bullmq-postgres', () => bullmqPostgres(settings)],
    ['graphile-worker', () => graphileWorker(settings, false)],
    ['graphile-worker-tuned', () => graphileWorker(settings, true)],
    ['pg-boss', () => pgBoss(settings)],
  ];
  const rows: BenchRow[] = [];
  for (const [name, make] of makers) {
    if (settings.only !== undefined && !settings.only.includes(name)) continue;
    const system = make();
    const started = Date.now();
    try {
      const row = await measure(system, settings);
      rows.push(row);
      console.log(`  ${system.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(row)}`);
    } finally {
      await system.cleanup();
    }
  }
  report('database', rows, ['bullmq-postgres', 'graphile-worker', 'graphile-worker-tuned', 'pg-boss']);
  if (settings.only === undefined || settings.only.includes('plan')) await claimPlan(settings);
}
