import { describe, expect, it } from 'vitest';
import { ConfigError, MemoryRateLimitStore, RateLimiter } from '../src/index.js';

describe('RateLimiter', () => {
  it('reports open queues without taking tokens, and the wait until one refills', async () => {
    let now = 0;
    const limiter = new RateLimiter({
      store: new MemoryRateLimitStore({ now: () => now }),
      queues: { mail: { limit: 2, intervalMs: 1_000 } },
    });
    expect((await limiter.openQueues(['mail', 'free'])).open).toEqual(['mail', 'free']);
    expect(await limiter.remaining('mail')).toBe(2);
    expect(await limiter.acquire('mail')).toBe(true);
    expect(await limiter.acquire('mail')).toBe(true);
    expect(await limiter.openQueues(['mail'])).toEqual({ open: [], retryAfterMs: 500 });
    now += 500;
    expect((await limiter.openQueues(['mail'])).open).toEqual(['mail']);
  });

  it('limits each group within a queue on its own bucket as well as the queue bucket', async () => {
    const store = new MemoryRateLimitStore({ now: () => 0 });
    const limiter = new RateLimiter({ store, queues: { api: { limit: 3, intervalMs: 60_000 } } });
    expect(await limiter.acquire('api', 'tenant-a')).toBe(true);
    expect(await limiter.acquire('api', 'tenant-b')).toBe(true);
    expect(await store.peek('api:tenant-a', { limit: 3, intervalMs: 60_000 })).toBe(2);
    expect(await store.peek('api', { limit: 3, intervalMs: 60_000 })).toBe(1);
    const aborted = new AbortController();
    await limiter.acquire('api', 'tenant-a');
    setTimeout(() => aborted.abort(), 20);
    expect(await limiter.acquire('api', 'tenant-a', aborted.signal)).toBe(false);
  });

  it('rejects a rule that is not a positive limit and interval', () => {
    const store = new MemoryRateLimitStore();
    expect(() => new RateLimiter({ store, queues: { q: { limit: 0, intervalMs: 1 } } })).toThrowError(ConfigError);
    expect(() => new RateLimiter({ store, queues: { q: { limit: 1, intervalMs: -1 } } })).toThrowError('intervalMs');
  });
});
