export { RedisCoordinationStore } from './redis-coordination-store.js';
export { RedisDeadLetterStore } from './redis-dead-letter-store.js';
export { createRedisDriver, RedisDriver } from './redis-driver.js';
export { type QueueKeys, queueKeys } from './redis-keys.js';
export type { RedisClusterConnection, RedisConnection, RedisDriverOptions } from './redis-options.js';
export { DEFAULT_KEY_PREFIX, DEFAULT_MAX_MESSAGE_BYTES } from './redis-options.js';
export { RedisRateLimitStore, type RedisRateLimitStoreOptions } from './redis-rate-limit-store.js';
