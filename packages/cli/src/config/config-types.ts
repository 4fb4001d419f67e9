import type {
  ConnectionDefinition,
  LogLevel,
  NamedRateLimit,
  QueueDriver,
  RateLimitRule,
  RateLimitStore,
  RegisteredJob,
  ScheduleDefinition,
} from '@queuekit/core';

/** Backends the CLI can create from a plain connection object. */
export const BACKENDS = ['sqlite', 'postgres', 'redis', 'beanstalk', 'servicebus', 'memory', 'sync'] as const;

/** One of {@link BACKENDS}. */
export type BackendName = (typeof BACKENDS)[number];

/**
 * A connection described by data: `driver` names the backend, the CLI imports its package and
 * passes the remaining keys to the driver factory.
 */
export interface BackendConnectionConfig {
  readonly driver: BackendName;
  /** Server URL (redis, postgres, beanstalk), file path (sqlite) or connection string (servicebus, also as `connectionString`); overridden by `QUEUE_<NAME>_URL`. */
  readonly url?: string;
  /** Queues `health`, `stats` and `work` look at on this connection; default: the top-level `queues`. */
  readonly queues?: readonly string[];
  /** Further options passed to the driver factory (e.g. `filename`, `prefix`, `schema`). */
  readonly [option: string]: unknown;
}

/** A connection: a driver factory's definition (`{ driver, create() }`) or a backend described by data. */
export type ConnectionConfig = (ConnectionDefinition & { readonly queues?: readonly string[] }) | BackendConnectionConfig;

/** Options of `queue work` that the config may set (flags win). */
export interface WorkerConfig {
  readonly concurrency?: number;
  readonly leaseMs?: number;
  readonly heartbeatMs?: number;
  readonly waitMs?: number;
  readonly shutdownGraceMs?: number;
  readonly defaultTimeoutMs?: number;
  readonly maxJobs?: number;
  readonly maxRuntimeMs?: number;
  readonly maxMemoryMb?: number;
  /** Finished jobs that may still be settling while the worker takes the next (Worker option maxSettling). */
  readonly maxSettling?: number;
  /** Deliveries of one job that may be lost with their worker before it is dead-lettered (Worker option); default 5. */
  readonly maxLostDeliveries?: number;
  /** Jobs the worker may claim ahead of its free slots (Worker option); default 32. */
  readonly prefetch?: number;
  /** Jobs of one group leased at once across every worker (Worker option groups.concurrency); default: claims ignore groups. */
  readonly groupConcurrency?: number;
  /** Level of the worker's structured log on stderr; default `warn`. */
  readonly logLevel?: LogLevel;
  /** How long a worker's presence heartbeat lives without renewal, in ms; default 30,000. */
  readonly presenceTtlMs?: number;
}

/** Thresholds of `queue health` (flags win). */
export interface HealthConfig {
  /** Degraded when a queue has more ready jobs than this. */
  readonly maxReady?: number;
  /** Degraded when a queue's oldest ready job has waited longer than this, in ms. */
  readonly maxOldestAgeMs?: number;
  /** Degraded when a queue has more dead letters than this. */
  readonly maxDead?: number;
  /** Degraded when fewer workers than this were seen on a connection (where the backend can tell). */
  readonly minWorkers?: number;
  /** How long one connection may take to answer before it counts as unreachable, in ms; default 5,000. */
  readonly timeoutMs?: number;
}

/** Job definitions, or module paths (relative to the config file) exporting them. */
export type JobsConfig = string | readonly (RegisteredJob | string)[];

/** A schedule of the config: a core ScheduleDefinition, and the connection whose backend keeps its ledger. */
export interface ScheduleConfig extends ScheduleDefinition {
  /** The connection the schedule's jobs go to and its fired ticks are recorded on; default the default connection. */
  readonly connection?: string;
}

/** A validated schedule: its connection resolved. */
export interface CliSchedule extends ScheduleDefinition {
  readonly connection: string;
}

/** The default export of `queue.config.mjs` (or `.js`, `.ts`). */
export interface QueueCliConfig {
  /** The connection used when none is named; default: the only one, or `default`. Overridden by `QUEUE_CONNECTION`. */
  readonly default?: string;
  readonly connections: Readonly<Record<string, ConnectionConfig>>;
  /** Handlers `queue work` runs and names `queue push` accepts. */
  readonly jobs?: JobsConfig;
  /** Queues in priority order; default `['default']`. */
  readonly queues?: readonly string[];
  readonly worker?: WorkerConfig;
  readonly health?: HealthConfig;
  /** Token buckets per queue name, honoured by `queue work` and reported by `queue health`. */
  readonly rateLimits?: Readonly<Record<string, RateLimitRule>>;
  /**
   * Budgets shared by several queues, by name: `{ 'stripe-api': { limit, intervalMs, queues } }`.
   * `queue work` claims from a listed queue only while its budget has a token; workers on one
   * backend share each budget's bucket.
   */
  readonly sharedRateLimits?: Readonly<Record<string, NamedRateLimit>>;
  /** Cron schedules, listed and run by hand with `queue schedule`. */
  readonly schedules?: readonly ScheduleConfig[];
}

/** A validated connection, ready to create. */
export interface CliConnection {
  readonly name: string;
  /** The backend (`sqlite`, `redis`, …) or the `driver` of a definition. */
  readonly driver: string;
  readonly definition: ConnectionDefinition;
  /** Queues of this connection, when it sets its own. */
  readonly queues: readonly string[] | undefined;
  /** A rate-limit store kept in the backend, shared by every process; undefined when the driver has none. */
  readonly rateLimitStore: (driver: QueueDriver) => Promise<RateLimitStore | undefined>;
}

/** A loaded and validated config file. */
export interface LoadedConfig {
  /** Absolute path of the config file. */
  readonly file: string;
  readonly defaultConnection: string;
  readonly connections: ReadonlyMap<string, CliConnection>;
  readonly queues: readonly string[];
  readonly worker: WorkerConfig;
  readonly health: HealthConfig;
  readonly rateLimits: Readonly<Record<string, RateLimitRule>>;
  readonly sharedRateLimits: Readonly<Record<string, NamedRateLimit>>;
  readonly schedules: readonly CliSchedule[];
  /** Imports and returns the job definitions (once; later calls reuse them). */
  loadJobs(): Promise<readonly RegisteredJob[]>;
}
