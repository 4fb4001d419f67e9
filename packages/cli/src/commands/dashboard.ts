import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { DEFAULT_PRESENCE_TTL_MS, QueueManager } from '@queuekit/core';
import { createDashboard } from '@queuekit/dashboard';
import { CliError, EXIT_OK } from '../cli-error.js';
import type { CliContext } from '../context.js';

/** Flags of `queue dashboard`. */
export interface DashboardCommandOptions {
  readonly port?: number;
  readonly host?: string;
  readonly readOnly?: boolean;
  readonly token?: string;
  /** Seconds between live refreshes. */
  readonly refresh?: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * `queue dashboard`: serves the dashboard over every connection of the config until SIGTERM or
 * SIGINT. Binds to loopback unless told otherwise; a non-loopback host without a token is refused.
 */
export async function runDashboard(ctx: CliContext, options: DashboardCommandOptions): Promise<number> {
  const config = await ctx.config();
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? ctx.io.env.QUEUE_DASHBOARD_TOKEN;
  if (!LOOPBACK.has(host) && (token === undefined || token === '')) {
    throw new CliError(`--host ${host} is not loopback: set --token (or QUEUE_DASHBOARD_TOKEN) so that only those who hold it get in`);
  }
  const connections = [...config.connections.values()];
  const manager = new QueueManager({
    default: config.defaultConnection,
    connections: Object.fromEntries(connections.map((c) => [c.name, c.definition])),
  });
  const handler = createDashboard({
    manager,
    queues: Object.fromEntries(connections.map((c) => [c.name, c.queues ?? config.queues])),
    thresholds: config.health,
    rateLimits: config.rateLimits,
    schedules: config.schedules,
    presenceTtlMs: config.worker.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS,
    ...(config.health.timeoutMs === undefined ? {} : { timeoutMs: config.health.timeoutMs }),
    ...(options.refresh === undefined ? {} : { refreshMs: Math.max(1_000, options.refresh * 1_000) }),
    readOnly: options.readOnly === true,
    ...(token === undefined || token === '' ? {} : { token }),
  });
  // The adaptor makes a plain http.Server unless told to make an http2 or https one.
  const server = createAdaptorServer({ fetch: handler, hostname: host }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new CliError(`cannot listen on ${host}:${options.port ?? 7070}: ${error.message}`, 1, { cause: error })),
    );
    server.listen(options.port ?? 7070, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  ctx.out(
    `queue dashboard on http://${shown}:${address.port}/${options.readOnly === true ? ' (read-only)' : ''}${token === undefined || token === '' ? '' : ' (token required)'}`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await manager.close().catch((error: unknown) => ctx.err(`warning: closing connections: ${(error as Error).message}`));
  return EXIT_OK;
}
