import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { createEnvelope, type QueueDriver } from '@queuekit/core';
import { BeanstalkClient, createBeanstalkDriver } from '@queuekit/driver-beanstalk';
import { CuttingProxy } from '@queuekit/driver-contract/cutting-proxy';
import { createPostgresDriver, createSqliteDriver } from '@queuekit/driver-database';
import { createRedisDriver, queueKeys } from '@queuekit/driver-redis';
import { createServiceBusDriver } from '@queuekit/driver-servicebus';
import { startTestBroker, type TestBroker } from '@queuekit/servicebus-test-broker';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Drivers the runner knows. */
export const DRIVERS = ['redis', 'postgres', 'sqlite', 'beanstalk', 'servicebus'] as const;

/** One of {@link DRIVERS}. */
export type DriverName = (typeof DRIVERS)[number];

/** A server-side action on the workers' connections. */
export interface ConnectionAction {
  /** What the report calls it (e.g. `CLIENT KILL`). */
  readonly label: string;
  /**
   * Whether the backend gives the workers' leases up with their connections (beanstalkd returns a
   * connection's reserved jobs the moment it closes), so a job may then run again while its first
   * run goes on in a live worker.
   */
  readonly releasesLeases: boolean;
  /** Does it; resolves how many connections were cut. */
  run(): Promise<number>;
}

/** A backend prepared for one chaos run: isolated names, a driver for the runner, and its actions. */
export interface ChaosBackend {
  readonly name: DriverName;
  /** The connection object the workers' config gets (`connections.chaos`). */
  readonly connection: Record<string, unknown>;
  readonly queue: string;
  /** The runner's own driver: pushes, dead-letter listing, stats. */
  readonly driver: QueueDriver;
  /** Stores an undecodable body straight into the backend, bypassing the driver's encoding. */
  pushPoison(raw: string): Promise<void>;
  /** Cuts the workers' connections server-side; undefined where there is no server to do it. */
  readonly drop?: ConnectionAction;
  /** Restarts the server; undefined where the runner does not own one it can restart without losing state. */
  readonly restart?: ConnectionAction;
  /** What the report should say about this backend's actions. */
  readonly notes: readonly string[];
  /** Closes the runner's driver and removes everything the run created. */
  cleanup(): Promise<void>;
}

/** Settings every backend needs. */
export interface BackendSettings {
  /** The worker lease, in ms (Service Bus lock duration and beanstalk TTR follow it). */
  readonly leaseMs: number;
  /** Folder for files of this run (SQLite database, beanstalkd binlog). */
  readonly dir: string;
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const tag = () => randomBytes(4).toString('hex');

/** Prepares `name` for a run. */
export async function openBackend(name: DriverName, settings: BackendSettings): Promise<ChaosBackend> {
  switch (name) {
    case 'redis':
      return redisBackend();
    case 'postgres':
      return postgresBackend();
    case 'sqlite':
      return sqliteBackend(settings);
    case 'beanstalk':
      return beanstalkBackend(settings);
    case 'servicebus':
      return serviceBusBackend(settings);
  }
}

async function redisBackend(): Promise<ChaosBackend> {
  const id = tag();
  const keyPrefix = `qk-chaos-${id}`;
  const connectionName = `qk-chaos-${id}`;
  const queue = `chaos-${id}`;
  const driver = createRedisDriver({ connection: REDIS_URL, keyPrefix, connectionName: `${connectionName}-runner` });
  const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await admin.connect();
  return {
    name: 'redis',
    connection: { driver: 'redis', url: REDIS_URL, prefix: keyPrefix, connectionName },
    queue,
    driver,
    async pushPoison(raw) {
      // A valid envelope first, then its stored body overwritten: the job is indexed as usual. It
      // is due a second later, so no worker claims the valid body before it is overwritten.
      const envelope = createEnvelope({ name: 'chaos-poison', queue, availableAt: Date.now() + 1_000 });
      await driver.push([envelope]);
      await admin.hset(queueKeys(keyPrefix, queue).jobPrefix + envelope.id, 'b', raw);
    },
    drop: {
      label: 'CLIENT KILL',
      releasesLeases: false,
      async run() {
        const list = (await admin.client('LIST')) as string;
        const ids = list
          .split('\n')
          .filter((line) => {
            const clientName = /(?:^|\s)name=(\S*)/.exec(line)?.[1];
            return clientName === connectionName || clientName?.startsWith(`${connectionName}:`) === true;
          })
          .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
          .filter((clientId): clientId is string => clientId !== undefined);
        for (const clientId of ids) await admin.client('KILL', 'ID', clientId);
        return ids.length;
      },
    },
    notes: [],
    async cleanup() {
      await driver.close();
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await admin.del(...keys);
      } while (cursor !== '0');
      admin.disconnect();
    },
  };
}

async function postgresBackend(): Promise<ChaosBackend> {
  const id = tag();
  const schema = `qk_chaos_${id}`;
  const applicationName = `qk-chaos-${id}`;
  const queue = `chaos-${id}`;
  const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema, applicationName: `${applicationName}-runner` });
  await driver.migrate();
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  return {
    name: 'postgres',
    connection: { driver: 'postgres', url: DATABASE_URL, schema, applicationName },
    queue,
    driver,
    async pushPoison(raw) {
      await admin.query(`INSERT INTO "${schema}".jobs (job_id, queue, priority, available_at, body) VALUES ($1, $2, 20, now(), $3)`, [
        `poison-${tag()}`,
        queue,
        raw,
      ]);
    },
    drop: {
      label: 'pg_terminate_backend',
      releasesLeases: false,
      async run() {
        const result = await admin.query(
          'SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
          [applicationName],
        );
        return result.rows.filter((row: { cut: boolean }) => row.cut).length;
      },
    },
    notes: [],
    async cleanup() {
      await driver.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
}

async function sqliteBackend(settings: BackendSettings): Promise<ChaosBackend> {
  const filename = join(settings.dir, 'queue.sqlite');
  const queue = `chaos-${tag()}`;
  const driver = createSqliteDriver({ filename });
  await driver.migrate();
  return {
    name: 'sqlite',
    connection: { driver: 'sqlite', url: filename },
    queue,
    driver,
    async pushPoison(raw) {
      const db = new Database(filename, { timeout: 30_000 });
      try {
        const now = Date.now();
        db.prepare('INSERT INTO "queuekit_jobs" (job_id, queue, priority, available_at, created_at, body) VALUES (?, ?, 20, ?, ?, ?)').run(
          `poison-${tag()}`,
          queue,
          now,
          now,
          raw,
        );
      } finally {
        db.close();
      }
    },
    notes: ['no server: connection drops and restarts do not apply'],
    async cleanup() {
      await driver.close();
    },
  };
}

/** A beanstalkd of the run's own, on a free port with a binlog, so that it can be restarted. */
class OwnBeanstalkd {
  #child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly binlogDir: string,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.env.BEANSTALKD_BIN ?? 'beanstalkd', ['-l', '127.0.0.1', '-p', String(this.port), '-b', this.binlogDir], {
      stdio: 'ignore',
    });
    this.#child = child;
    let failure: Error | undefined;
    child.once('error', (error) => {
      failure = error;
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (failure !== undefined) throw new Error(`beanstalkd could not be started (${failure.message}); scripts/services.sh installs it`);
      if (child.exitCode !== null) throw new Error(`beanstalkd exited with ${child.exitCode} on port ${this.port}`);
      if (await accepts(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`beanstalkd did not listen on ${this.port} within 10 s`);
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

async function beanstalkBackend(settings: BackendSettings): Promise<ChaosBackend> {
  const binlogDir = mkdtempSync(join(tmpdir(), 'qk-chaos-binlog-'));
  const server = new OwnBeanstalkd(await freePort(), binlogDir);
  await server.start();
  const url = `beanstalk://127.0.0.1:${server.port}`;
  const tubePrefix = `qkchaos${tag()}.`;
  const queue = 'work';
  // Never shorter than the lease: a touch resets the TTR, so the server then holds a job at least as long as the worker asked.
  const ttrSeconds = Math.max(1, Math.ceil(settings.leaseMs / 1000));
  const driver = createBeanstalkDriver({ url, tubePrefix, ttrSeconds });
  return {
    name: 'beanstalk',
    connection: { driver: 'beanstalk', url, tubePrefix, ttrSeconds },
    queue,
    driver,
    async pushPoison(raw) {
      const client = new BeanstalkClient({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 2_000 });
      try {
        await client.use(`${tubePrefix}${queue}`);
        await client.put(20, 0, ttrSeconds, Buffer.from(raw));
      } finally {
        client.close();
      }
    },
    restart: {
      label: 'beanstalkd SIGKILL + restart (-b binlog)',
      releasesLeases: true,
      async run() {
        await server.stop('SIGKILL');
        await server.start();
        return 1;
      },
    },
    notes: [
      'beanstalkd has no way to cut one client: the restart (SIGKILL, then started again on its binlog) cuts every connection',
      'beanstalkd hands a closed connection’s reserved jobs out again at once, so runs that overlap a restart are counted apart',
    ],
    async cleanup() {
      await driver.close();
      await server.stop('SIGKILL');
      rmSync(binlogDir, { recursive: true, force: true });
    },
  };
}

async function serviceBusBackend(settings: BackendSettings): Promise<ChaosBackend> {
  const broker: TestBroker = await startTestBroker({ lockDurationMs: settings.leaseMs, maxDeliveryCount: 100 });
  const proxy = await CuttingProxy.start(broker.port);
  const queue = `chaos-${tag()}`;
  broker.createQueue(queue);
  const connectionString = (port: number) =>
    `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=chaos;SharedAccessKey=chaos;UseDevelopmentEmulator=true`;
  const driver = createServiceBusDriver({ connectionString: broker.connectionString, queues: [queue] });
  const sender = new ServiceBusClient(broker.connectionString);
  return {
    name: 'servicebus',
    connection: { driver: 'servicebus', url: connectionString(proxy.port) },
    queue,
    driver,
    async pushPoison(raw) {
      const client = sender.createSender(queue);
      try {
        await client.sendMessages({ body: Buffer.from(raw, 'utf8'), messageId: `poison-${tag()}` });
      } finally {
        await client.close();
      }
    },
    drop: {
      label: 'proxy cut (every AMQP connection of the workers)',
      releasesLeases: false,
      run: async () => proxy.cut(),
    },
    notes: [
      'the test broker keeps its state in memory, so it is not restarted; the workers reach it through a proxy whose connections the runner cuts',
    ],
    async cleanup() {
      await driver.close();
      await sender.close();
      await proxy.close();
      await broker.close();
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}
