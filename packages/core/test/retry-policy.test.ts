import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, RetryPolicy } from '../src/index.js';

describe('RetryPolicy', () => {
  it('none retries at once', () => {
    expect(RetryPolicy.none().delayFor(3, 1_000)).toEqual({ delayMs: 0, scheduledAt: 1_000 });
  });

  it('fixed waits the same delay every time', () => {
    const policy = RetryPolicy.fixed(250);
    expect(policy.delayFor(1, 0).delayMs).toBe(250);
    expect(policy.delayFor(5, 0).delayMs).toBe(250);
  });

  it('exponential grows by factor and stops at maxDelayMs', () => {
    const policy = RetryPolicy.exponential({ delayMs: 100, factor: 3, maxDelayMs: 1_000 });
    expect([1, 2, 3, 4].map((n) => policy.delayFor(n, 0).delayMs)).toEqual([100, 300, 900, 1_000]);
    expect(policy.delayFor(2, 5_000).scheduledAt).toBe(5_300);
  });

  it('jitter takes up to its fraction away', () => {
    const low = new RetryPolicy({ type: 'exponential', delayMs: 1_000, jitter: 0.5 }, { random: () => 1 });
    const high = new RetryPolicy({ type: 'exponential', delayMs: 1_000, jitter: 0.5 }, { random: () => 0 });
    expect(low.delayFor(1, 0).delayMs).toBe(500);
    expect(high.delayFor(1, 0).delayMs).toBe(1_000);
  });

  it('rejects out-of-range specs naming the field', () => {
    expect(() => RetryPolicy.fixed(-1)).toThrowError(InvalidArgumentError);
    expect(() => RetryPolicy.exponential({ delayMs: 1, factor: 0.5 })).toThrowError('retry.factor');
    expect(() => RetryPolicy.exponential({ delayMs: 1, jitter: 2 })).toThrowError('retry.jitter');
  });
});
