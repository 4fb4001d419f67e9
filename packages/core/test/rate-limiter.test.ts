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

  it('charges the jobs of several queues to one named limit, shared across limiters over one store', async () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ now: () => now });
    const limits = { 'stripe-api': { limit: 3, intervalMs: 3_000, queues: ['invoices', 'refunds'] } };
    // Two workers' limiters over one store: one serves invoices, the other refunds and mail.
    const first = new RateLimiter({ store, limits });
    const second = new RateLimiter({ store, limits, queues: { refunds: { limit: 10, intervalMs: 1_000 } } });
    expect(first.limitsOf('invoices')).toEqual(['stripe-api']);
    expect(first.limitsOf('mail')).toEqual([]);
    expect((await first.tryAcquire('invoices')).granted).toBe(true);
    expect((await second.tryAcquire('refunds')).granted).toBe(true);
    expect((await first.tryAcquire('invoices')).granted).toBe(true);
    // The budget is spent for both queues, whichever limiter asks; a queue outside it is free.
    expect(await second.tryAcquire('refunds')).toMatchObject({
      granted: false,
      limitedBy: 'limit',
      limit: 'stripe-api',
      retryAfterMs: 1_000,
    });
    expect(await first.openQueues(['invoices', 'mail'])).toEqual({ open: ['mail'], retryAfterMs: 0 });
    expect(await second.openQueues(['refunds'])).toEqual({ open: [], retryAfterMs: 1_000 });
    // A refused named limit takes nothing from the queue's own bucket.
    expect(await store.peek('refunds', { limit: 10, intervalMs: 1_000 })).toBe(9);
    now += 1_000;
    expect((await second.openQueues(['refunds'])).open).toEqual(['refunds']);
    expect(await second.acquire('refunds')).toBe(true);
    expect((await first.tryAcquire('invoices')).granted).toBe(false);
  });

  it('waits on an empty named limit without taking the group token again', async () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ now: () => now });
    const groupRule = { limit: 5, intervalMs: 1_000 };
    const limiter = new RateLimiter({
      store,
      groups: { api: groupRule },
      limits: { partner: { limit: 1, intervalMs: 50, queues: ['api'] } },
    });
    expect(await limiter.acquire('api', 'a')).toBe(true);
    const refused = await limiter.tryAcquire('api', 'a');
    expect(refused).toMatchObject({ granted: false, limitedBy: 'limit', limit: 'partner' });
    setTimeout(() => {
      now += 50;
    }, 10);
    expect(await limiter.acquire('api', 'a', undefined, refused)).toBe(true);
    // Three group tokens taken: the first job's, the refused try's, and none again while waiting.
    expect(await store.peek('api:a', groupRule)).toBe(3);
  });

  it('rejects a named limit without queues, or with a bad rule, naming it', () => {
    const store = new MemoryRateLimitStore();
    expect(() => new RateLimiter({ store, limits: { 'stripe-api': { limit: 1, intervalMs: 1_000, queues: [] } } })).toThrowError(
      'named rate limit stripe-api: queues must list at least one queue name',
    );
    expect(() => new RateLimiter({ store, limits: { 'stripe-api': { limit: 0, intervalMs: 1_000, queues: ['a'] } } })).toThrowError(
      'named rate limit stripe-api: limit must be a number > 0',
    );
    expect(() => new RateLimiter({ store, limits: { '': { limit: 1, intervalMs: 1_000, queues: ['a'] } } })).toThrowError(ConfigError);
  });
});
