import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createEnvelope, type QueueError } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresDriver } from '../src/index.js';
import { DATABASE_URL, dropSchema, eventually, randomQueue, randomSchema, sql } from './helpers.js';

/**
 * A loopback proxy to the test server that can hold what the server sends, and hand it on in one
 * write: what a client reads after its process was paused, or when the server's bytes come close
 * together.
 */
class HoldingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #held: { client: Socket; chunks: Buffer[]; upstreamEnded: Promise<unknown> }[] = [];
  holding = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<HoldingProxy> {
    const target = new URL(DATABASE_URL);
    const server = createServer();
    const proxy = new HoldingProxy(server);
    server.on('connection', (client) => proxy.#connect(client, target));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  /** DATABASE_URL through this proxy. */
  get url(): string {
    const url = new URL(DATABASE_URL);
    url.host = `127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return url.toString();
  }

  /** Waits until the server has closed every held connection, then hands each one all it sent, in one write, and its end. */
  async release(): Promise<void> {
    for (const held of this.#held.splice(0)) {
      await held.upstreamEnded;
      held.client.end(Buffer.concat(held.chunks));
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
  }

  #connect(client: Socket, target: URL): void {
    const upstream = createConnectionTo(target);
    this.#sockets.add(client).add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    if (!this.holding) {
      upstream.pipe(client);
      return;
    }
    const held = { client, chunks: [] as Buffer[], upstreamEnded: once(upstream, 'close') };
    upstream.on('data', (chunk: Buffer) => held.chunks.push(chunk));
    this.#held.push(held);
  }
}

function createConnectionTo(target: URL): Socket {
  return createConnection({ host: target.hostname, port: Number(target.port || 5432) });
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The driver errors reported through onBackgroundError whose pg cause is `code`. */
function withCause(errors: readonly QueueError[], code: string): QueueError[] {
  return errors.filter((error) => (error.cause as { code?: string } | undefined)?.code === code);
}

describe('postgres: connections the server ends outside any query', () => {
  it('a FATAL read with the ReadyForQuery of a new connection (the pool hands it to the migration) is reported, and the process lives', async () => {
    const proxy = await HoldingProxy.start();
    cleanups.push(() => proxy.close());
    const schema = randomSchema();
    const applicationName = `qk-test-${schema}`;
    const errors: QueueError[] = [];
    const driver = createPostgresDriver({
      connectionString: proxy.url,
      schema,
      applicationName,
      listen: false,
      onBackgroundError: (error) => errors.push(error),
    });
    cleanups.push(
      () => dropSchema(schema),
      () => driver.close(),
    );
    proxy.holding = true;
    const migrating = driver.migrate().then(
      () => 'migrated',
      (error: Error) => error,
    );
    // The backend is up and has sent its ReadyForQuery, which the proxy holds; end it, then hand
    // the driver both at once.
    const started = await eventually(
      () => sql<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]),
      (rows) => rows[0]?.n === 1,
    );
    expect(started[0]?.n).toBe(1);
    await sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    await proxy.release();
    expect(await migrating).toBeInstanceOf(Error);
    expect(withCause(errors, '57P01')).toHaveLength(1);
    expect(withCause(errors, '57P01')[0]?.message).toMatch(/^postgres: migrate connection/);
    // The pool let the broken client go: the next migration connects afresh.
    proxy.holding = false;
    expect((await driver.migrate()).to).toBe(driver.latestVersion);
  });

  it('an idle driver whose connections (pool and LISTEN) the server ends reports each one, and works on', async () => {
    const schema = randomSchema();
    const applicationName = `qk-test-${schema}`;
    const errors: QueueError[] = [];
    const driver = createPostgresDriver({
      connectionString: DATABASE_URL,
      schema,
      applicationName,
      onBackgroundError: (error) => errors.push(error),
    });
    cleanups.push(
      () => dropSchema(schema),
      () => driver.close(),
    );
    const queue = randomQueue();
    // Several pool connections at once, then idle; the LISTEN connection waits.
    await Promise.all(Array.from({ length: 4 }, (_, i) => driver.push([createEnvelope({ name: 'idle', queue, payload: { i } })])));
    const before = await sql<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);
    expect(before[0]?.n).toBeGreaterThanOrEqual(2);
    const [{ n: ended } = { n: 0 }] = await sql<{ n: number }>(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    expect(ended).toBe(before[0]?.n);
    const reported = await eventually(
      async () => withCause(errors, '57P01').length,
      (n) => n >= ended,
    );
    expect(reported).toBe(ended);
    const claimed = await driver.claim([queue], { leaseMs: 5_000, waitMs: 0, max: 10 });
    expect(claimed).toHaveLength(4);
  });
});
