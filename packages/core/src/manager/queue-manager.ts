import type { CancelOutcome, JobInfo } from '../driver/job-info.js';
import { cancelJob, type ListJobsOptions, listJobs, lookupJob, pauseQueue, resumeQueue } from '../driver/job-lookup.js';
import type { PushResult, QueueDriver } from '../driver/queue-driver.js';
import { ConfigError } from '../errors/config-error.js';
import { quoteInput } from '../errors/quote-input.js';
import type { DispatchOptions, Job, JobDispatcher } from '../job/job.js';

/**
 * How to make one named connection's driver, lazily: any `{ driver, create }` object, e.g.
 * `{ driver: 'redis', create: () => createRedisDriver({ connection: url }) }` (`@queuekit/driver-sync`
 * also exports `sync(options)`, which returns one).
 */
export interface ConnectionDefinition {
  /** The driver's name, for messages and the CLI (`redis`, `postgres`, `sqlite`, …). */
  readonly driver: string;
  /** Creates the driver; called at most once per QueueManager. */
  create(): QueueDriver | Promise<QueueDriver>;
}

/** Configuration of a {@link QueueManager}. */
export interface QueueManagerConfig {
  /** The connection used when none is named; default: the only one, or `default`. */
  readonly default?: string;
  readonly connections: Readonly<Record<string, ConnectionDefinition>>;
  /** Wraps every driver once created (e.g. with the InstrumentedQueueDecorator). */
  readonly decorate?: (driver: QueueDriver, connection: string) => QueueDriver;
}

/** Dispatch options with the connection to use. */
export interface ManagerDispatchOptions extends DispatchOptions {
  readonly connection?: string;
}

/** Named connections from config, created lazily, cached, and closed together. */
export class QueueManager implements JobDispatcher {
  readonly defaultConnection: string;
  readonly #config: QueueManagerConfig;
  readonly #drivers = new Map<string, Promise<QueueDriver>>();
  #closed = false;

  constructor(config: QueueManagerConfig) {
    if (typeof config !== 'object' || config === null || typeof config.connections !== 'object' || config.connections === null) {
      throw new ConfigError('queue config: `connections` must be an object of named connection definitions');
    }
    const names = Object.keys(config.connections);
    if (names.length === 0) throw new ConfigError('queue config: `connections` is empty; define at least one connection');
    for (const name of names) {
      const definition = config.connections[name];
      if (typeof definition?.create !== 'function' || typeof definition.driver !== 'string') {
        throw new ConfigError(
          `queue config: connections.${name} must come from a driver factory (an object with \`driver\` and \`create()\`)`,
        );
      }
    }
    this.defaultConnection = config.default ?? (names.length === 1 ? (names[0] as string) : 'default');
    if (!names.includes(this.defaultConnection)) {
      throw new ConfigError(`queue config: default connection "${this.defaultConnection}" is not among connections (${names.join(', ')})`);
    }
    this.#config = config;
  }

  /** Connection names. */
  names(): string[] {
    return Object.keys(this.#config.connections);
  }

  /** The definition of a connection, or undefined. */
  definition(name: string = this.defaultConnection): ConnectionDefinition | undefined {
    return this.#config.connections[name];
  }

  /** The driver of connection `name` (default connection when omitted), created on first use. */
  connection(name: string = this.defaultConnection): Promise<QueueDriver> {
    if (this.#closed) return Promise.reject(new ConfigError('queue manager is closed'));
    let driver = this.#drivers.get(name);
    if (driver === undefined) {
      const definition = this.#config.connections[name];
      if (definition === undefined) {
        return Promise.reject(new ConfigError(`unknown connection ${quoteInput(name)} (configured: ${this.names().join(', ')})`));
      }
      driver = Promise.resolve()
        .then(() => definition.create())
        .then((created) => (this.#config.decorate ? this.#config.decorate(created, name) : created));
      // A failed creation is not cached, so the next call tries again.
      driver.catch(() => this.#drivers.delete(name));
      this.#drivers.set(name, driver);
    }
    return driver;
  }

  /** Pushes a job through the named (or default) connection. */
  async dispatch(job: Job, options: ManagerDispatchOptions = {}): Promise<PushResult> {
    const { connection, serializer, ...pushOptions } = options;
    await job.checked();
    const driver = await this.connection(connection);
    return driver.push([job.toEnvelope(serializer)], pushOptions);
  }

  /** A job by id in any state (see core's `lookupJob`), through the named (or default) connection. */
  async getJob(id: string, options: { readonly connection?: string; readonly queue?: string } = {}): Promise<JobInfo | undefined> {
    const driver = await this.connection(options.connection);
    return lookupJob(driver, id, options.queue === undefined ? {} : { queue: options.queue });
  }

  /** Jobs of one queue in one state (`failed`: the dead letters), through the named (or default) connection. */
  async listJobs(options: ListJobsOptions & { readonly connection?: string }): Promise<JobInfo[]> {
    const { connection, ...list } = options;
    return listJobs(await this.connection(connection), list);
  }

  /** Cancels one job by id through the named (or default) connection. */
  async cancel(id: string, options: { readonly connection?: string; readonly queue?: string } = {}): Promise<CancelOutcome> {
    const driver = await this.connection(options.connection);
    return cancelJob(driver, id, options.queue === undefined ? {} : { queue: options.queue });
  }

  /** Pauses claims from `queue` for every worker of the named (or default) connection's backend. */
  async pause(queue: string, options: { readonly connection?: string } = {}): Promise<void> {
    await pauseQueue(await this.connection(options.connection), queue);
  }

  /** Resumes claims from `queue`. */
  async resume(queue: string, options: { readonly connection?: string } = {}): Promise<void> {
    await resumeQueue(await this.connection(options.connection), queue);
  }

  /** Closes every driver created so far; the manager refuses further use. */
  async close(): Promise<void> {
    this.#closed = true;
    const drivers = [...this.#drivers.values()];
    this.#drivers.clear();
    const results = await Promise.allSettled(drivers.map(async (driver) => (await driver).close()));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof ConfigError));
    if (failures.length > 0)
      throw new AggregateError(
        failures.map((f) => f.reason),
        `closing ${failures.length} connection(s) failed`,
      );
  }
}
