import { parseServiceBusConnectionString, type ServiceBusClient } from '@azure/service-bus';
import { ConfigError, isValidQueueName, type QueueError, quoteInput } from '@queuekit/core';

/** Options of {@link createServiceBusDriver}. */
export interface ServiceBusDriverOptions {
  /**
   * A Service Bus connection string (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…`),
   * for a client the driver creates and closes. Required unless `client` is given.
   */
  readonly connectionString?: string;
  /** A client to use instead; the driver never closes it. `migrate()` then needs `connectionString` too. */
  readonly client?: ServiceBusClient;
  /**
   * Queues the driver knows before using them: `migrate()` creates them, and the dead-letter
   * store's calls without a `queue` filter search them (plus every queue this driver has used).
   */
  readonly queues?: readonly string[];
  /**
   * Lock duration `migrate()` gives the queues it creates, in ms (Service Bus: 5 s to 5 min;
   * default 30 s). A lease shorter than the lock lasts the lock; see the README.
   */
  readonly lockDurationMs?: number;
  /**
   * MaxDeliveryCount `migrate()` gives the queues it creates (default 100). Service Bus counts
   * every abandon (a failed run, a give-back) as a delivery, so keep it well above the jobs'
   * attempts plus the worker's `maxLostDeliveries`.
   */
  readonly maxDeliveryCount?: number;
  /**
   * Largest encoded envelope accepted, in bytes (default 258,048: the standard tier's 256 KiB
   * message limit less room for headers and properties; premium namespaces allow up to 100 MB).
   */
  readonly maxMessageBytes?: number;
  /** Most messages `stats()` and the dead-letter store read per queue when they peek (default 10,000). */
  readonly peekLimit?: number;
  /**
   * Told about failures no caller awaits (a lock renewal of a lease longer than the lock duration
   * failing for a reason other than the lock being lost). Default: ignored.
   */
  readonly onBackgroundError?: (error: QueueError) => void;
}

/** Default largest envelope, in bytes: 256 KiB less 4 KiB for headers and properties. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 - 4 * 1024;

/** Options after validation, with defaults applied. */
export interface ResolvedServiceBusOptions {
  readonly connectionString: string | undefined;
  readonly queues: readonly string[];
  readonly lockDurationMs: number;
  readonly maxDeliveryCount: number;
  readonly maxMessageBytes: number;
  readonly peekLimit: number;
}

/** Validates `options` and applies defaults; throws ConfigError naming the option at fault. */
export function resolveServiceBusOptions(options: ServiceBusDriverOptions): ResolvedServiceBusOptions {
  const { connectionString, client } = options;
  if (client === undefined && connectionString === undefined) {
    throw new ConfigError('servicebus: connectionString: required (or pass a ServiceBusClient as client)');
  }
  if (connectionString !== undefined) checkConnectionString(connectionString);
  const queues = options.queues ?? [];
  for (const queue of queues) {
    if (typeof queue !== 'string' || !isValidQueueName(queue)) {
      throw new ConfigError(`servicebus: queues: ${quoteInput(queue)} is not a valid queue name`);
    }
  }
  const lockDurationMs = options.lockDurationMs ?? 30_000;
  if (!Number.isInteger(lockDurationMs) || lockDurationMs < 5_000 || lockDurationMs > 300_000) {
    throw new ConfigError(
      `servicebus: lockDurationMs: expected an integer 5000..300000 (Service Bus allows 5 s to 5 min), got ${lockDurationMs}`,
    );
  }
  const maxDeliveryCount = options.maxDeliveryCount ?? 100;
  if (!Number.isInteger(maxDeliveryCount) || maxDeliveryCount < 1) {
    throw new ConfigError(`servicebus: maxDeliveryCount: expected an integer >= 1, got ${maxDeliveryCount}`);
  }
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > 100 * 1024 * 1024) {
    throw new ConfigError(`servicebus: maxMessageBytes: expected an integer 1..104857600, got ${maxMessageBytes}`);
  }
  const peekLimit = options.peekLimit ?? 10_000;
  if (!Number.isInteger(peekLimit) || peekLimit < 1) {
    throw new ConfigError(`servicebus: peekLimit: expected an integer >= 1, got ${peekLimit}`);
  }
  return { connectionString, queues, lockDurationMs, maxDeliveryCount, maxMessageBytes, peekLimit };
}

/** Throws a ConfigError saying what is wrong with a connection string (never echoing its key). */
function checkConnectionString(connectionString: unknown): void {
  if (typeof connectionString !== 'string' || connectionString.trim() === '') {
    throw new ConfigError('servicebus: connectionString: expected a non-empty string');
  }
  let endpoint: string | undefined;
  let hasKey = false;
  try {
    const parsed = parseServiceBusConnectionString(connectionString);
    endpoint = parsed.endpoint;
    hasKey = parsed.sharedAccessKey !== undefined || parsed.sharedAccessSignature !== undefined;
  } catch (error) {
    throw new ConfigError(
      `servicebus: connectionString: not a Service Bus connection string (expected 'Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…'): ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (endpoint === undefined || !/^sb:\/\/[^/;]+/i.test(endpoint)) {
    throw new ConfigError(`servicebus: connectionString: Endpoint must be sb://<host>, got ${quoteInput(endpoint ?? '')}`);
  }
  if (!hasKey) {
    throw new ConfigError('servicebus: connectionString: SharedAccessKey (or SharedAccessSignature) is missing');
  }
}
