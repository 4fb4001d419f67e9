import { describe, expect, it, vi } from 'vitest';
import { onAbort } from '../src/index.js';

describe('onAbort', () => {
  it('calls every registered callback once on abort, through one listener per signal', () => {
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const calls: string[] = [];
    onAbort(controller.signal, () => calls.push('a'));
    const stopB = onAbort(controller.signal, () => calls.push('b'));
    onAbort(controller.signal, () => calls.push('c'));
    stopB();
    controller.abort();
    controller.abort();
    expect(calls).toEqual(['a', 'c']);
    expect(add).toHaveBeenCalledTimes(1);
  });

  it('calls the callback at once when the signal has already aborted', () => {
    const controller = new AbortController();
    controller.abort();
    let called = 0;
    const stop = onAbort(controller.signal, () => {
      called += 1;
    });
    expect(called).toBe(1);
    stop();
  });
});
