import { ConfigError, type QueueError, quoteInput } from '@queuekit/core';
import { TUBE_PREFIX_PATTERN } from './tubes.js';

/** Options of {@link createBeanstalkDriver}. */
export interface BeanstalkDriverOptions {
  /** Where beanstalkd listens: `beanstalk://host:port`. Default `beanstalk://127.0.0.1:11300`. */
  readonly url?: string;
  /**
   * Put before every queue name to make its tube name (`<tubePrefix><queue>`), so that several
   * applications can share one beanstalkd. Default: none (tube = queue name).
   */
  readonly tubePrefix?: string;
  /**
   * The time-to-run of the jobs this driver puts, in whole seconds (>= 1). While a worker holds a
   * job the driver renews it (`touch`) until the worker's own lease runs out, so this is the bound
   * on how long a frozen worker process keeps a job (a killed one gives it back at once: its
   * connection closes). Default 3, matching the worker's default lease.
   */
  readonly ttrSeconds?: number;
  /**
   * Largest job body accepted, in bytes; larger pushes throw PayloadTooLargeError before anything
   * is sent. The server's own limit (`beanstalkd -z`, read at connect) wins when it is lower.
   * Default 65,535 (beanstalkd's default `-z`).
   */
  readonly maxJobBytes?: number;
  /** How long a connect attempt may take before calls fail, in ms. Default 3,000. */
  readonly connectTimeoutMs?: number;
  /**
   * Told about failures no caller awaits (a dropped connection, a lease renewal that failed, a
   * job handed back after its reserve was abandoned); each is already handled. Default: ignored.
   */
  readonly onBackgroundError?: (error: QueueError) => void;
}

/** Default address of beanstalkd. */
export const DEFAULT_BEANSTALK_URL = 'beanstalk://127.0.0.1:11300';
/** Default time-to-run of the jobs the driver puts, in seconds. */
export const DEFAULT_TTR_SECONDS = 3;
/** beanstalkd's default `-z`: the largest job body it takes, in bytes. */
export const DEFAULT_MAX_JOB_BYTES = 65_535;

/** Options after validation, with defaults applied. */
export interface ResolvedBeanstalkOptions {
  readonly host: string;
  readonly port: number;
  readonly tubePrefix: string;
  readonly ttrSeconds: number;
  readonly maxJobBytes: number;
  readonly connectTimeoutMs: number;
}

/** Validates `options` and applies defaults; throws ConfigError naming the option at fault. */
export function resolveBeanstalkOptions(options: BeanstalkDriverOptions): ResolvedBeanstalkOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError('beanstalk: options: expected an object');
  const { host, port } = parseBeanstalkUrl(options.url ?? DEFAULT_BEANSTALK_URL);
  const tubePrefix = options.tubePrefix ?? '';
  if (typeof tubePrefix !== 'string' || (tubePrefix !== '' && !TUBE_PREFIX_PATTERN.test(tubePrefix))) {
    throw new ConfigError(
      `beanstalk: tubePrefix: expected up to 64 of letters, digits and - + / ; . $ _ ( ), not starting with '-', got ${quoteInput(tubePrefix)}`,
    );
  }
  return {
    host,
    port,
    tubePrefix,
    ttrSeconds: integer('ttrSeconds', options.ttrSeconds, DEFAULT_TTR_SECONDS, 1, 86_400),
    maxJobBytes: integer('maxJobBytes', options.maxJobBytes, DEFAULT_MAX_JOB_BYTES, 1, 2 ** 32 - 1),
    connectTimeoutMs: integer('connectTimeoutMs', options.connectTimeoutMs, 3_000, 1, 600_000),
  };
}

/** Host and port of a `beanstalk://host:port` URL; ConfigError naming what is wrong otherwise. */
export function parseBeanstalkUrl(url: unknown): { host: string; port: number } {
  const shown = JSON.stringify(url)?.slice(0, 120);
  if (typeof url !== 'string') throw new ConfigError(`beanstalk: url: expected a string like beanstalk://127.0.0.1:11300, got ${shown}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`beanstalk: url: not a URL: ${shown} (expected beanstalk://host:port)`);
  }
  if (parsed.protocol !== 'beanstalk:') {
    throw new ConfigError(`beanstalk: url: expected the scheme beanstalk://, got ${quoteInput(parsed.protocol)} in ${shown}`);
  }
  if (parsed.hostname === '') throw new ConfigError(`beanstalk: url: no host in ${shown}`);
  if (parsed.pathname !== '' && parsed.pathname !== '/') {
    throw new ConfigError(
      `beanstalk: url: unexpected path ${quoteInput(parsed.pathname)} in ${shown} (tubes are queues, not part of the URL)`,
    );
  }
  const port = parsed.port === '' ? 11_300 : Number(parsed.port);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return { host, port };
}

function integer(key: string, value: unknown, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new ConfigError(`beanstalk: ${key}: expected an integer ${min}..${max}, got ${quoteInput(resolved)}`);
  }
  return resolved;
}
