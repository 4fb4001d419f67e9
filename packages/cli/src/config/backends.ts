import { isAbsolute, resolve } from 'node:path';
import type { ConnectionDefinition, QueueDriver, RateLimitStore, RegisteredJob } from '@queuekit/core';
import { CliError } from '../cli-error.js';
import type { BackendConnectionConfig, BackendName } from './config-types.js';
import { importPackage } from './import-module.js';

/** What a backend needs from the loader: the config file (for relative paths) and the job handlers. */
export interface BackendContext {
  readonly file: string;
  /** How messages name the config file. */
  readonly label: string;
  readonly dir: string;
  /** `connections.<name>`, for messages. */
  readonly key: string;
  readonly loadJobs: () => Promise<readonly RegisteredJob[]>;
}

/** The package each backend lives in. */
export const BACKEND_PACKAGES: Readonly<Record<BackendName, string>> = {
  sqlite: '@queuekit/driver-database',
  postgres: '@queuekit/driver-database',
  redis: '@queuekit/driver-redis',
  beanstalk: '@queuekit/driver-beanstalk',
  servicebus: '@queuekit/driver-servicebus',
  memory: '@queuekit/core/testing',
  sync: '@queuekit/driver-sync',
};

/** Keys the CLI itself reads; every other key is passed to the driver factory. */
const CLI_KEYS = new Set(['driver', 'url', 'queues']);

type Factory = (options: Record<string, unknown>) => QueueDriver;

async function loadFactory(
  backend: BackendName,
  exportName: string,
  ctx: BackendContext,
): Promise<{ factory: Factory; module: Record<string, unknown> }> {
  const pkg = BACKEND_PACKAGES[backend];
  const module = await importPackage(pkg, ctx.file);
  if (module === undefined) {
    throw new CliError(
      `${ctx.label}: ${ctx.key}.driver: "${backend}" needs the package ${pkg}, which is not installed: install it (npm install ${pkg.replace(/\/testing$/, '')})`,
    );
  }
  const factory = module[exportName];
  if (typeof factory !== 'function') {
    throw new CliError(`${ctx.label}: ${ctx.key}.driver: the installed ${pkg} has no export ${exportName}; upgrade it`);
  }
  return { factory: factory as Factory, module };
}

function driverOptions(config: BackendConnectionConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !CLI_KEYS.has(key)));
}

function filePath(dir: string, path: string): string {
  if (path === ':memory:' || isAbsolute(path)) return path;
  return resolve(dir, path);
}

/** A SQLite `url` may be a path or `sqlite://path` / `file:path`. */
function sqlitePath(url: string): string {
  return url.replace(/^sqlite:\/\//, '').replace(/^file:(\/\/)?/, '');
}

/** Turns a validated plain connection object into a definition whose `create()` imports its driver package. */
export function backendDefinition(config: BackendConnectionConfig, ctx: BackendContext): ConnectionDefinition {
  const options = driverOptions(config);
  switch (config.driver) {
    case 'sqlite':
      return {
        driver: 'sqlite',
        async create() {
          const { factory } = await loadFactory('sqlite', 'createSqliteDriver', ctx);
          const filename =
            config.url !== undefined ? sqlitePath(config.url) : typeof options.filename === 'string' ? options.filename : 'queuekit.sqlite';
          return factory({ ...options, filename: filePath(ctx.dir, filename) });
        },
      };
    case 'postgres':
      return {
        driver: 'postgres',
        async create() {
          const { factory } = await loadFactory('postgres', 'createPostgresDriver', ctx);
          return factory({ ...options, ...(config.url === undefined ? {} : { connectionString: config.url }) });
        },
      };
    case 'redis':
      return {
        driver: 'redis',
        async create() {
          const { factory } = await loadFactory('redis', 'createRedisDriver', ctx);
          const { prefix, ...rest } = options;
          return factory({
            ...rest,
            ...(prefix === undefined ? {} : { keyPrefix: prefix }),
            ...(config.url === undefined ? {} : { connection: config.url }),
          });
        },
      };
    case 'beanstalk':
      return {
        driver: 'beanstalk',
        async create() {
          const { factory } = await loadFactory('beanstalk', 'createBeanstalkDriver', ctx);
          return factory({ ...options, ...(config.url === undefined ? {} : { url: config.url }) });
        },
      };
    case 'servicebus':
      return {
        driver: 'servicebus',
        async create() {
          const { factory } = await loadFactory('servicebus', 'createServiceBusDriver', ctx);
          // The connection's queues are the ones the driver knows: `queue migrate` creates them and
          // `queue dlq` searches them.
          return factory({
            ...options,
            ...(config.queues === undefined ? {} : { queues: config.queues }),
            ...(config.url === undefined ? {} : { connectionString: config.url }),
          });
        },
      };
    case 'memory':
      return {
        driver: 'memory',
        async create() {
          const { factory } = await loadFactory('memory', 'createMemoryDriver', ctx);
          return factory(options);
        },
      };
    case 'sync':
      return {
        driver: 'sync',
        async create() {
          const { factory } = await loadFactory('sync', 'createSyncDriver', ctx);
          return factory({ ...options, jobs: await ctx.loadJobs() });
        },
      };
  }
}

/**
 * The backend's shared rate-limit store for a created driver (`driver.createRateLimitStore()`,
 * which an instrumented driver passes through), or undefined when the backend keeps none.
 */
export async function backendRateLimitStore(driver: QueueDriver): Promise<RateLimitStore | undefined> {
  return driver.createRateLimitStore?.();
}
