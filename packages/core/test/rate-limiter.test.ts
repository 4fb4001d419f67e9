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

  it('gives each group a bucket of its own rule, apart from the queue-wide bucket', async () => {
    const store = new MemoryRateLimitStore({ now: () => 0 });
    const queueRule = { limit: 10, intervalMs: 60_000 };
    const groupRule = { limit: 3, intervalMs: 60_000 };
    const limiter = new RateLimiter({ store, queues: { api: queueRule }, groups: { api: groupRule } });
    for (let i = 0; i < 3; i += 1) expect((await limiter.tryAcquire('api', 'tenant-a')).granted).toBe(true);
    // The group ran out first, and a refused group spends nothing of the queue's budget.
    expect(await limiter.tryAcquire('api', 'tenant-a')).toMatchObject({ granted: false, limitedBy: 'group', retryAfterMs: 20_000 });
    expect(await store.peek('api', queueRule)).toBe(7);
    for (const tenant of ['tenant-b', 'tenant-c']) {
      for (let i = 0; i < 3; i += 1) expect((await limiter.tryAcquire('api', tenant)).granted).toBe(true);
    }
    expect((await limiter.tryAcquire('api', 'tenant-d')).granted).toBe(true);
    expect(await limiter.tryAcquire('api', 'tenant-d')).toMatchObject({ granted: false, limitedBy: 'queue' });
    // A job with no group is charged to the queue-wide bucket only.
    expect(await limiter.tryAcquire('api')).toMatchObject({ granted: false, limitedBy: 'queue' });
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 20);
    expect(await limiter.acquire('api', 'tenant-a', aborted.signal)).toBe(false);
  });

  it('limits groups without any queue-wide limit', async () => {
    const store = new MemoryRateLimitStore({ now: () => 0 });
    const limiter = new RateLimiter({ store, groups: { api: { limit: 1, intervalMs: 1_000 } } });
    expect(await limiter.acquire('api', 'a')).toBe(true);
    expect(await limiter.acquire('api', 'b')).toBe(true);
    expect((await limiter.tryAcquire('api', 'a')).limitedBy).toBe('group');
    expect(await limiter.remaining('api')).toBeUndefined();
  });

  it('rejects a rule that is not a positive limit and interval', () => {
    const store = new MemoryRateLimitStore();
    expect(() => new RateLimiter({ store, queues: { q: { limit: 0, intervalMs: 1 } } })).toThrowError(ConfigError);
    expect(() => new RateLimiter({ store, queues: { q: { limit: 1, intervalMs: -1 } } })).toThrowError('intervalMs');
  });
});
