import { describe, expect, it } from 'vitest';
import { InFlightCalls } from '../src/driver/index.js';

describe('InFlightCalls', () => {
  it('drained() resolves at once when nothing runs, and after every tracked call and added promise settles', async () => {
    const calls = new InFlightCalls();
    await calls.drained();
    let finishTracked: (value: string) => void = () => undefined;
    let failAdded: (error: Error) => void = () => undefined;
    const tracked = calls.track(() => new Promise<string>((resolve) => (finishTracked = resolve)));
    const added = new Promise<void>((_, reject) => (failAdded = reject));
    added.catch(() => undefined);
    calls.add(added);
    expect(calls.size).toBe(2);
    let drained = false;
    const waiting = calls.drained().then(() => {
      drained = true;
    });
    finishTracked('done');
    expect(await tracked).toBe('done');
    await Promise.resolve();
    expect(drained).toBe(false);
    failAdded(new Error('background'));
    await waiting;
    expect(drained).toBe(true);
    expect(calls.size).toBe(0);
  });

  it('track() passes a rejection on and still counts the call as finished; a synchronous throw too', async () => {
    const calls = new InFlightCalls();
    await expect(calls.track(() => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    await expect(
      calls.track(() => {
        throw new Error('thrown');
      }),
    ).rejects.toThrow('thrown');
    expect(calls.size).toBe(0);
    await calls.drained();
  });
});
