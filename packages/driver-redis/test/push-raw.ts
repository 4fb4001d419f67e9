import { createEnvelope, type QueueDriver } from '@queuekit/core';
import { queueKeys, type RedisDriver } from '../src/index.js';

/**
 * Stores `raw` as the body of a new job of `queue` (the contract suite's poison tests): pushes a
 * valid envelope, then overwrites its stored body. Resolves the job id.
 */
export async function pushRaw(driver: QueueDriver, queue: string, raw: string): Promise<string> {
  const redis = driver as RedisDriver;
  const envelope = createEnvelope({ name: 'poison', queue });
  await redis.push([envelope]);
  await redis.client.hset(queueKeys(redis.keyPrefix, queue).jobPrefix + envelope.id, 'b', raw);
  return envelope.id;
}
