import type { DriverCapabilities } from '@queuekit/core';
import { BASELINE_CAPABILITIES, type Retention } from '@queuekit/core/driver';

/** What sets the two dialects' capabilities apart. */
export interface DialectCapabilities {
  /** PostgreSQL waits on LISTEN/NOTIFY; SQLite polls. */
  readonly blockingReserve: boolean;
  /** PostgreSQL enqueues through the application's pg client. */
  readonly transactionalPush: boolean;
  readonly maxMessageBytes: number;
  /** The driver's resolved retention: `capabilities.retention` is whether completed jobs are kept. */
  readonly retention: Retention;
  /** Claims honour groupConcurrency (see DriverCapabilities.groups). */
  readonly groups: boolean;
}

/**
 * The capabilities of a database driver: one design for both dialects (native delays and leases,
 * unique keys, the batch members, lookups, progress, cancel and pause), with what differs given.
 */
export function databaseCapabilities(dialect: DialectCapabilities): DriverCapabilities {
  return Object.freeze({
    ...BASELINE_CAPABILITIES,
    delay: 'native',
    lease: 'native',
    blockingReserve: dialect.blockingReserve,
    bulkPush: true,
    transactionalPush: dialect.transactionalPush,
    uniqueKeys: true,
    rewriteOnRelease: true,
    batch: true,
    maxMessageBytes: dialect.maxMessageBytes,
    lookup: true,
    retention: dialect.retention.completed,
    progress: true,
    cancel: true,
    pause: true,
    groups: dialect.groups,
  });
}
