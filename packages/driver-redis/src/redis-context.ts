import type { Retention } from '@queuekit/core/driver';
import type { Cluster, Redis } from 'ioredis';
import type { QueueKeys } from './redis-keys.js';

/** What the claim and settle modules need from their driver. */
export interface RedisCallContext {
  /** The command connection. */
  readonly client: Redis | Cluster;
  /** The keys of `queue` (its name already checked). */
  keysOf(queue: string): QueueKeys;
  /** A fencing token (or token base) no other claim of this process has used. */
  nextToken(): string;
  /** How many finished jobs are kept per queue, and for how long. */
  readonly retention: Retention;
}
