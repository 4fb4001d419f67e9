import { describe, expect, it } from 'vitest';
import { describeResult, InvalidArgumentError, Job, QUOTE_MAX_CHARS, quoteInput } from '../src/index.js';

describe('quoteInput', () => {
  it('quotes short input whole, as JSON', () => {
    expect(quoteInput('mail')).toBe('"mail"');
    expect(quoteInput(42)).toBe('42');
    expect(quoteInput({ limit: 0 })).toBe('{"limit":0}');
    expect(quoteInput(undefined)).toBe('undefined');
    expect(quoteInput(10n)).toBe('10');
  });

  it('cuts long input to QUOTE_MAX_CHARS and names its full length', () => {
    const quoted = quoteInput('q'.repeat(10_000));
    expect(quoted).toBe(`${JSON.stringify('q'.repeat(QUOTE_MAX_CHARS))}… (10000 characters)`);
    expect(quoteInput({ blob: 'z'.repeat(500) })).toMatch(/… \(511 characters\)$/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(quoteInput(cycle)).toBe('[object Object]');
  });

  it('is what core errors quote: a 10 kB queue name is refused in a short message', () => {
    const error = (() => {
      try {
        new Job('x', {}).onQueue('n'.repeat(10_000));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message.length).toBeLessThan(250);
  });
});

describe('describeResult', () => {
  it('reads "no result" for a handler that returned nothing, and JSON otherwise', () => {
    expect(describeResult(undefined)).toBe('no result');
    expect(describeResult(null)).toBe('null');
    expect(describeResult({ url: '/a.jpg' })).toBe('{"url":"/a.jpg"}');
    expect(describeResult('x'.repeat(1_000))).toMatch(/… \(1000 characters\)$/);
  });
});
