import { afterEach, describe, expect, it, vi } from 'vitest';
import { HoldQueue } from '../src/worker/hold-queue.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('HoldQueue', () => {
  it('hands items out oldest first and gives back, in order, those nobody took within holdMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const expired: string[] = [];
    const queue = new HoldQueue<string>(20, (item) => expired.push(item));
    queue.push('a');
    queue.push('b');
    await vi.advanceTimersByTimeAsync(10);
    queue.push('c');
    expect(queue.shift()).toBe('a');
    await vi.advanceTimersByTimeAsync(10);
    // b's 20 ms are up; c (pushed at 10 ms) is still held.
    expect(expired).toEqual(['b']);
    expect(queue.length).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(expired).toEqual(['b', 'c']);
    expect(queue.length).toBe(0);
  });

  it('shift() gives back, instead of handing out, items held past holdMs whose timer has not run yet (a paused process)', () => {
    const expired: string[] = [];
    const queue = new HoldQueue<string>(20, (item) => expired.push(item));
    queue.push('stale');
    // The event loop is blocked, as in a process paused with SIGSTOP: the expiry timer cannot run.
    const until = performance.now() + 40;
    while (performance.now() < until) {
      // busy wait
    }
    queue.push('fresh');
    expect(queue.shift()).toBe('fresh');
    expect(expired).toEqual(['stale']);
    expect(queue.shift()).toBeUndefined();
  });

  it('drain() takes every item and nothing expires afterwards', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const expired: number[] = [];
    const queue = new HoldQueue<number>(20, (item) => expired.push(item));
    queue.push(1);
    queue.push(2);
    expect(queue.drain()).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(50);
    expect(expired).toEqual([]);
    expect(queue.shift()).toBeUndefined();
  });
});
