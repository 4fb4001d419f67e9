import {
  type ConnectionDefinition,
  isQueueError,
  isValidQueueName,
  type NamedRateLimit,
  quoteInput,
  type RateLimitRule,
  type RegisteredJob,
  Scheduler,
} from '@queuekit/core';
import { CliError } from '../cli-error.js';
import { backendDefinition, backendRateLimitStore } from './backends.js';
import {
  BACKENDS,
  type BackendConnectionConfig,
  type BackendName,
  type CliConnection,
  type CliSchedule,
  type HealthConfig,
  type JobsConfig,
  type LoadedConfig,
  type WorkerConfig,
} from './config-types.js';
import { describeValue } from './describe-value.js';
import { CONNECTION_VARIABLE, type EnvOverrides, urlVariable } from './env-overrides.js';
import { describeRule, HEALTH_NUMBER_RULES, type NumberRule, satisfies, WORKER_NUMBER_RULES } from './number-rules.js';

type Fail = (key: string, expected: string, got: unknown) => never;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Backends whose connection has a URL (or path) that `QUEUE_<NAME>_URL` may override. */
const URL_BACKENDS: ReadonlySet<BackendName> = new Set(['sqlite', 'postgres', 'redis', 'beanstalk', 'servicebus']);

const WORKER_NUMBERS = Object.keys(WORKER_NUMBER_RULES) as (keyof typeof WORKER_NUMBER_RULES)[];
const HEALTH_NUMBERS = Object.keys(HEALTH_NUMBER_RULES) as (keyof typeof HEALTH_NUMBER_RULES)[];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

/** What {@link validateConfig} needs besides the exported value. */
export interface ValidateContext {
  /** Absolute path of the config file. */
  readonly file: string;
  /** How messages name the file (relative to the working directory when inside it). */
  readonly label: string;
  readonly dir: string;
  readonly env: EnvOverrides;
  readonly loadJobs: (jobs: JobsConfig | undefined) => Promise<readonly RegisteredJob[]>;
}

/**
 * Checks the default export of a config file and applies the environment overrides. Every error
 * names the file, the key and what was expected.
 */
export function validateConfig(value: unknown, ctx: ValidateContext): LoadedConfig {
  const fail: Fail = (key, expected, got) => {
    throw new CliError(`${ctx.label}: ${key}: expected ${expected}, got ${describeValue(got)}`);
  };
  if (!isObject(value)) fail('default export', 'an object ({ connections: { … } })', value);
  const root = value as Record<string, unknown>;
  const known = new Set(['default', 'connections', 'jobs', 'queues', 'worker', 'health', 'rateLimits', 'sharedRateLimits', 'schedules']);
  for (const key of Object.keys(root)) {
    if (!known.has(key)) fail(key, `one of the keys ${[...known].join(', ')}`, key);
  }

  if (!isObject(root.connections)) fail('connections', 'an object of named connections', root.connections);
  const rawConnections = root.connections as Record<string, unknown>;
  const names = Object.keys(rawConnections);
  if (names.length === 0) fail('connections', 'at least one connection', 'an empty object');

  const jobsConfig = validateJobs(root.jobs, fail);
  let jobs: Promise<readonly RegisteredJob[]> | undefined;
  const loadJobs = () => {
    jobs ??= ctx.loadJobs(jobsConfig);
    jobs.catch(() => {
      jobs = undefined;
    });
    return jobs;
  };

  const queues = root.queues === undefined ? ['default'] : validateQueues(root.queues, 'queues', fail);
  const connections = new Map<string, CliConnection>();
  for (const name of names) {
    connections.set(name, validateConnection(name, rawConnections[name], ctx, fail, loadJobs));
  }
  for (const name of ctx.env.urls.keys()) {
    const connection = connections.get(name);
    const raw = rawConnections[name] as Record<string, unknown>;
    if (connection !== undefined && typeof raw.create === 'function') {
      throw new CliError(
        `${urlVariable(name)}: connection ${name} is created by code in ${ctx.label} (driver ${connection.driver}); read the variable there`,
      );
    }
    if (connection !== undefined && !URL_BACKENDS.has(connection.driver as BackendName)) {
      throw new CliError(`${urlVariable(name)}: connection ${name} uses the ${connection.driver} driver, which takes no URL`);
    }
  }

  let defaultConnection: string;
  if (ctx.env.connection !== undefined) {
    if (!connections.has(ctx.env.connection)) {
      throw new CliError(`${CONNECTION_VARIABLE}: expected one of ${names.join(', ')}, got ${quoteInput(ctx.env.connection)}`);
    }
    defaultConnection = ctx.env.connection;
  } else if (root.default !== undefined) {
    if (typeof root.default !== 'string' || !connections.has(root.default)) fail('default', `one of ${names.join(', ')}`, root.default);
    defaultConnection = root.default as string;
  } else if (names.length === 1) {
    defaultConnection = names[0] as string;
  } else if (connections.has('default')) {
    defaultConnection = 'default';
  } else {
    return fail('default', `the name of the default connection (one of ${names.join(', ')})`, undefined);
  }

  return {
    file: ctx.file,
    defaultConnection,
    connections,
    queues,
    worker: validateWorker(root.worker, fail),
    health: validateHealth(root.health, fail),
    rateLimits: validateRateLimits(root.rateLimits, fail),
    sharedRateLimits: validateSharedRateLimits(root.sharedRateLimits, fail),
    schedules: validateSchedules(root.schedules, defaultConnection, connections, fail, ctx.label),
    loadJobs,
  };
}

function validateConnection(
  name: string,
  raw: unknown,
  ctx: ValidateContext,
  fail: Fail,
  loadJobs: () => Promise<readonly RegisteredJob[]>,
): CliConnection {
  const key = `connections.${name}`;
  if (!isObject(raw)) return fail(key, `an object with a driver (one of ${BACKENDS.join(', ')}) or a driver factory's definition`, raw);
  const queues = raw.queues === undefined ? undefined : validateQueues(raw.queues, `${key}.queues`, fail);
  const rateLimitStore = (driver: Parameters<CliConnection['rateLimitStore']>[0]) => backendRateLimitStore(driver);
  if (typeof raw.create === 'function') {
    if (typeof raw.driver !== 'string' || raw.driver === '') fail(`${key}.driver`, 'the driver name as a string', raw.driver);
    const definition = raw as unknown as ConnectionDefinition;
    return { name, driver: definition.driver, definition, queues, rateLimitStore };
  }
  if (typeof raw.driver !== 'string' || !(BACKENDS as readonly string[]).includes(raw.driver)) {
    return fail(`${key}.driver`, `one of ${BACKENDS.join(', ')}`, raw.driver);
  }
  const driver = raw.driver as BackendName;
  const envUrl = ctx.env.urls.get(name);
  if (raw.url !== undefined && (typeof raw.url !== 'string' || raw.url === '')) fail(`${key}.url`, 'a URL string', raw.url);
  const config = { ...raw, ...(envUrl === undefined ? {} : { url: envUrl }) } as BackendConnectionConfig;
  if (driver === 'redis') {
    if (config.url !== undefined && !/^rediss?:\/\//.test(config.url)) fail(`${key}.url`, 'a redis:// or rediss:// URL', config.url);
    if (raw.prefix !== undefined && typeof raw.prefix !== 'string') fail(`${key}.prefix`, 'a key prefix string', raw.prefix);
  }
  if (driver === 'beanstalk' && config.url !== undefined && !/^beanstalk:\/\//.test(config.url)) {
    fail(`${key}.url`, 'a beanstalk://host:port URL', config.url);
  }
  if (driver === 'servicebus') {
    const connectionString = config.url ?? raw.connectionString;
    if (typeof connectionString !== 'string' || !/^\s*Endpoint=sb:\/\//i.test(connectionString)) {
      // The string holds a key: say what is wrong with it without printing it.
      const got =
        typeof connectionString === 'string' ? 'a string that does not start with Endpoint=sb://' : describeValue(connectionString);
      throw new CliError(
        `${ctx.label}: ${key}.connectionString: expected a Service Bus connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…, or set ${urlVariable(name)}), got ${got}`,
      );
    }
  }
  if (driver === 'postgres') {
    const url = config.url ?? raw.connectionString;
    if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
      fail(`${key}.url`, `a postgres:// URL (or set ${urlVariable(name)})`, url);
    }
  }
  if (driver === 'sqlite' && raw.filename !== undefined && (typeof raw.filename !== 'string' || raw.filename === '')) {
    fail(`${key}.filename`, 'a file path', raw.filename);
  }
  const definition = backendDefinition(config, { file: ctx.file, label: ctx.label, dir: ctx.dir, key, loadJobs });
  return { name, driver, definition, queues, rateLimitStore };
}

function validateQueues(raw: unknown, key: string, fail: Fail): string[] {
  if (!Array.isArray(raw) || raw.length === 0) return fail(key, 'a non-empty array of queue names', raw);
  raw.forEach((queue, index) => {
    if (typeof queue !== 'string' || !isValidQueueName(queue))
      fail(`${key}[${index}]`, 'a queue name (1-100 of A-Z a-z 0-9 . _ : -)', queue);
  });
  return [...(raw as string[])];
}

function validateJobs(raw: unknown, fail: Fail): JobsConfig | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return raw;
  if (!Array.isArray(raw)) return fail('jobs', 'an array of job definitions (from defineJob) or module paths, or one module path', raw);
  raw.forEach((job, index) => {
    if (typeof job === 'string') return;
    if (!isObject(job) || typeof job.name !== 'string' || typeof job.handler !== 'function') {
      fail(`jobs[${index}]`, 'a job definition from defineJob() or a module path', job);
    }
  });
  return raw as JobsConfig;
}

function validateNumbers<K extends string>(
  raw: unknown,
  section: string,
  rules: Readonly<Record<K, NumberRule>>,
  fail: Fail,
): Partial<Record<K, number>> {
  if (raw === undefined) return {};
  if (!isObject(raw)) return fail(section, 'an object', raw);
  const out: Partial<Record<K, number>> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!Object.hasOwn(rules, key)) continue;
    const rule = rules[key as K];
    if (!satisfies(value, rule)) fail(`${section}.${key}`, describeRule(rule), value);
    out[key as K] = value as number;
  }
  return out;
}

function validateWorker(raw: unknown, fail: Fail): WorkerConfig {
  const numbers = validateNumbers(raw, 'worker', WORKER_NUMBER_RULES, fail);
  const section = (raw ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(section)) {
    if (!(WORKER_NUMBERS as readonly string[]).includes(key) && key !== 'logLevel') {
      fail(`worker.${key}`, `one of the keys ${[...WORKER_NUMBERS, 'logLevel'].join(', ')}`, key);
    }
  }
  if (section.logLevel !== undefined && !LOG_LEVELS.includes(section.logLevel as string)) {
    fail('worker.logLevel', `one of ${LOG_LEVELS.join(', ')}`, section.logLevel);
  }
  return { ...numbers, ...(section.logLevel === undefined ? {} : { logLevel: section.logLevel as WorkerConfig['logLevel'] & string }) };
}

function validateHealth(raw: unknown, fail: Fail): HealthConfig {
  const numbers = validateNumbers(raw, 'health', HEALTH_NUMBER_RULES, fail);
  for (const key of Object.keys((raw ?? {}) as object)) {
    if (!(HEALTH_NUMBERS as readonly string[]).includes(key)) fail(`health.${key}`, `one of the keys ${HEALTH_NUMBERS.join(', ')}`, key);
  }
  return numbers;
}

function validateRateLimits(raw: unknown, fail: Fail): Record<string, RateLimitRule> {
  if (raw === undefined) return {};
  if (!isObject(raw)) return fail('rateLimits', 'an object of { limit, intervalMs } per queue name', raw);
  const out: Record<string, RateLimitRule> = {};
  for (const [queue, rule] of Object.entries(raw)) {
    const key = `rateLimits.${queue}`;
    if (!isValidQueueName(queue)) fail(key, 'a queue name as the key', queue);
    if (!isObject(rule)) fail(key, '{ limit, intervalMs }', rule);
    const { limit, intervalMs } = rule as Record<string, unknown>;
    if (typeof limit !== 'number' || !(limit > 0)) fail(`${key}.limit`, 'a number > 0', limit);
    if (typeof intervalMs !== 'number' || !(intervalMs > 0)) fail(`${key}.intervalMs`, 'a number of ms > 0', intervalMs);
    out[queue] = { limit: limit as number, intervalMs: intervalMs as number };
  }
  return out;
}

function validateSharedRateLimits(raw: unknown, fail: Fail): Record<string, NamedRateLimit> {
  if (raw === undefined) return {};
  if (!isObject(raw)) return fail('sharedRateLimits', 'an object of { limit, intervalMs, queues } per budget name', raw);
  const out: Record<string, NamedRateLimit> = {};
  for (const [name, budget] of Object.entries(raw)) {
    const key = `sharedRateLimits.${name}`;
    if (name === '' || name.length > 100) fail(key, 'a name of 1-100 characters as the key', name);
    if (!isObject(budget)) fail(key, '{ limit, intervalMs, queues }', budget);
    const { limit, intervalMs, queues } = budget as Record<string, unknown>;
    if (typeof limit !== 'number' || !(limit > 0)) fail(`${key}.limit`, 'a number > 0', limit);
    if (typeof intervalMs !== 'number' || !(intervalMs > 0)) fail(`${key}.intervalMs`, 'a number of ms > 0', intervalMs);
    if (!Array.isArray(queues) || queues.length === 0 || !queues.every((q) => typeof q === 'string' && isValidQueueName(q)))
      fail(`${key}.queues`, 'a non-empty array of queue names', queues);
    for (const k of Object.keys(budget as object))
      if (!['limit', 'intervalMs', 'queues'].includes(k)) fail(`${key}.${k}`, 'one of the keys limit, intervalMs, queues', k);
    out[name] = { limit: limit as number, intervalMs: intervalMs as number, queues: [...(queues as string[])] };
  }
  return out;
}

const SCHEDULE_KEYS = ['name', 'cron', 'timezone', 'job', 'missed', 'overlap', 'graceMs', 'connection'];

/** Checks the shape of each schedule and its cron expression; policies are checked against the driver when it is opened. */
function validateSchedules(
  raw: unknown,
  defaultConnection: string,
  connections: ReadonlyMap<string, CliConnection>,
  fail: Fail,
  label: string,
): CliSchedule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return fail('schedules', 'an array of { name, cron, job }', raw);
  const names = new Set<string>();
  return raw.map((schedule: unknown, index) => {
    const key = `schedules[${index}]`;
    if (!isObject(schedule)) return fail(key, '{ name, cron, job }', schedule);
    for (const k of Object.keys(schedule))
      if (!SCHEDULE_KEYS.includes(k)) fail(`${key}.${k}`, `one of the keys ${SCHEDULE_KEYS.join(', ')}`, k);
    if (typeof schedule.name !== 'string' || schedule.name === '') fail(`${key}.name`, 'a non-empty string', schedule.name);
    const name = schedule.name as string;
    if (names.has(name)) fail(`${key}.name`, 'a name no other schedule uses', name);
    names.add(name);
    if (typeof schedule.cron !== 'string') fail(`${key}.cron`, 'a cron expression string', schedule.cron);
    if (schedule.timezone !== undefined && typeof schedule.timezone !== 'string')
      fail(`${key}.timezone`, 'an IANA time zone name', schedule.timezone);
    if (typeof schedule.job !== 'function') fail(`${key}.job`, 'a function (tickAt) => Job', schedule.job);
    try {
      Scheduler.nextTick(schedule as unknown as CliSchedule, Date.now());
    } catch (error) {
      if (!isQueueError(error)) throw error;
      throw new CliError(`${label}: ${key}: ${error.message}`, undefined, { cause: error });
    }
    const connection = schedule.connection ?? defaultConnection;
    if (typeof connection !== 'string' || !connections.has(connection)) {
      fail(`${key}.connection`, `one of ${[...connections.keys()].join(', ')}`, schedule.connection);
    }
    return { ...(schedule as unknown as CliSchedule), connection: connection as string };
  });
}
