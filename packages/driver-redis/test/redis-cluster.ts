import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** A throwaway Redis Cluster of 3 masters on loopback ports, started from redis-server. */
export interface TestCluster {
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePorts(): Promise<number[]> {
  // Cluster bus ports are port + 10000, so the three ports and their bus ports must all be free.
  for (let base = 7101; base < 7700; base += 100) {
    const ports = [base, base + 1, base + 2];
    const all = [...ports, ...ports.map((p) => p + 10_000)];
    if ((await Promise.all(all.map(isPortFree))).every(Boolean)) return ports;
  }
  throw new Error('no free loopback ports for a test cluster in 7101..7702');
}

/** Starts the cluster and waits until every node reports cluster_state:ok (bounded to 30 s). */
export async function startTestCluster(): Promise<TestCluster> {
  const ports = await freePorts();
  const dir = mkdtempSync(join(tmpdir(), 'qk-redis-cluster-'));
  const servers: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const server of servers) if (server.exitCode === null) server.kill('SIGKILL');
    await Promise.all(
      servers.map((server) =>
        server.exitCode === null && server.signalCode === null ? new Promise((resolve) => server.once('exit', resolve)) : undefined,
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const server = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      );
      servers.push(server);
    }
    for (const port of ports) await waitForPing(port);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    for (const port of ports) await waitForClusterOk(port);
    return { ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      redis.disconnect();
    }
  }
}

async function waitForClusterOk(port: number): Promise<void> {
  const redis = new Redis({ port, host: '127.0.0.1' });
  try {
    const deadline = Date.now() + 30_000;
    while (!String(await redis.cluster('INFO')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error(`cluster node ${port} not ok after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    redis.disconnect();
  }
}
