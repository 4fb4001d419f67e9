import { ConfigError, type QueueError, quoteInput, type RetentionOptions } from '@queuekit/core';
import { type Retention, resolveRetention } from '@queuekit/core/driver';
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { KEY_PREFIX_PATTERN } from './redis-keys.js';

/** Where the driver connects: an existing client, a `redis://` URL, or ioredis options. */
export type RedisConnection = Redis | Cluster | RedisOptions | string;

/** Seed nodes of a Redis Cluster and the ioredis Cluster options. */
export interface RedisClusterConnection {
  /** At least one reachable node; the rest of the cluster is discovered. */
  readonly nodes: readonly ClusterNode[];
  /** Passed to `new Cluster()`. */
  readonly options?: ClusterOptions;
}

/** Options of {@link createRedisDriver} and {@link RedisRateLimitStore}. */
export interface RedisDriverOptions {
  /**
   * An ioredis client (`Redis` or `Cluster`) to use — the driver never closes it, and duplicates it
   * for its blocking connections, which it does close — or a URL or ioredis options for a client
   * the driver creates and closes. Default: `redis://127.0.0.1:6379`.
   */
  readonly connection?: RedisConnection;
  /** Connect to a Redis Cluster instead; takes precedence over `connection`. */
  readonly cluster?: RedisClusterConnection;
  /**
   * Prefix of every key: 1–64 of letters, digits, `.`, `_`, `-`, `:`, not ending in `:`, no braces
   * (the queue name is the Cluster hash tag). Default `qk`.
   */
  readonly keyPrefix?: string;
  /** Largest encoded envelope accepted, in bytes; larger pushes throw PayloadTooLargeError. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** CLIENT SETNAME of the connections the driver creates (seen in CLIENT LIST). Default `queuekit`. */
  readonly connectionName?: string;
  /**
   * Told about failures no caller awaits (the blocking wait's reconnects, giving back jobs the
   * blocking connection claimed for a wait that ended meanwhile); each is already handled by
   * retrying or by the lease running out. Default: ignored.
   */
  readonly onBackgroundError?: (error: QueueError) => void;
  /**
   * Finished jobs kept per queue: completed ones with their result (the record the Worker gives
   * `ack()`) and cancelled ones, pruned by the ack or cancel script that stores a new one. Default
   * the last 1,000 of each, for at most 24 h; `false` keeps no completed jobs (cancelled ones are
   * still kept, so a cancelled job's worker learns it was cancelled).
   */
  readonly retention?: RetentionOptions;
}

/** Default largest envelope, in bytes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Default key prefix. */
export const DEFAULT_KEY_PREFIX = 'qk';

/** Options after validation, with defaults applied. */
export interface ResolvedRedisOptions {
  readonly keyPrefix: string;
  readonly maxMessageBytes: number;
  readonly connectionName: string;
  readonly retention: Retention;
}

/** Validates `options` and applies defaults; throws ConfigError naming the key at fault. */
export function resolveRedisOptions(options: RedisDriverOptions): ResolvedRedisOptions {
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string' || !KEY_PREFIX_PATTERN.test(keyPrefix)) {
    throw new ConfigError(
      `redis: keyPrefix: expected 1-64 characters of letters, digits, '.', '_', '-', ':' not ending in ':', got ${quoteInput(keyPrefix)}`,
    );
  }
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > 512 * 1024 * 1024) {
    throw new ConfigError(`redis: maxMessageBytes: expected an integer 1..536870912, got ${maxMessageBytes}`);
  }
  const connectionName = options.connectionName ?? 'queuekit';
  if (!/^[!-~]{1,64}$/.test(connectionName)) {
    throw new ConfigError(`redis: connectionName: expected 1-64 printable characters without spaces, got ${quoteInput(connectionName)}`);
  }
  return { keyPrefix, maxMessageBytes, connectionName, retention: resolveRetention('redis', options.retention) };
}

/** A client and whether the driver created it (and so must close it). */
export interface OpenedConnection {
  readonly client: Redis | Cluster;
  readonly owned: boolean;
}

function isClient(value: unknown): value is Redis | Cluster {
  return value instanceof Redis || value instanceof Cluster;
}

/** Opens (or adopts) the command connection described by `options`. */
export function openConnection(options: RedisDriverOptions, resolved: ResolvedRedisOptions): OpenedConnection {
  if (options.cluster !== undefined) {
    if (options.cluster.nodes.length === 0) throw new ConfigError('redis: cluster.nodes: expected at least one node');
    const clusterOptions: ClusterOptions = {
      ...options.cluster.options,
      redisOptions: { connectionName: resolved.connectionName, ...options.cluster.options?.redisOptions },
      enableAutoPipelining: options.cluster.options?.enableAutoPipelining ?? true,
    };
    rejectClientKeyPrefix(clusterOptions.keyPrefix ?? clusterOptions.redisOptions?.keyPrefix);
    return { client: new Cluster([...options.cluster.nodes], clusterOptions), owned: true };
  }
  const connection = options.connection ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (isClient(connection)) {
    rejectClientKeyPrefix(connection.options.keyPrefix);
    return { client: connection, owned: false };
  }
  if (typeof connection === 'string') {
    if (!/^rediss?:\/\//.test(connection))
      throw new ConfigError(`redis: connection: expected a redis:// or rediss:// URL, got ${quoteInput(connection)}`);
    return { client: new Redis(connection, { connectionName: resolved.connectionName, enableAutoPipelining: true }), owned: true };
  }
  rejectClientKeyPrefix(connection.keyPrefix);
  return { client: new Redis({ connectionName: resolved.connectionName, enableAutoPipelining: true, ...connection }), owned: true };
}

/** A second connection like `client` for blocking commands; always owned by the caller. */
export function duplicateForBlocking(client: Redis | Cluster, connectionName: string): Redis | Cluster {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, {
      redisOptions: { ...client.options.redisOptions, connectionName, maxRetriesPerRequest: null },
    });
  }
  return client.duplicate({ connectionName, maxRetriesPerRequest: null });
}

function rejectClientKeyPrefix(prefix: string | undefined): void {
  // ioredis would prefix KEYS but not the job keys the scripts derive from them.
  if (prefix !== undefined && prefix !== '') {
    throw new ConfigError('redis: the ioredis keyPrefix option is not supported; use the driver option keyPrefix');
  }
}
