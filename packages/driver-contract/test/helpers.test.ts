import { isValidQueueName } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { randomQueueName, testEnvelope, waitUntil } from '../src/index.js';

describe('contract helpers', () => {
  it('randomQueueName() gives valid, distinct names with the prefix', () => {
    const names = new Set(Array.from({ length: 100 }, () => randomQueueName('p')));
    expect(names.size).toBe(100);
    for (const name of names) {
      expect(isValidQueueName(name)).toBe(true);
      expect(name.startsWith('p-')).toBe(true);
    }
  });

  it('waitUntil() resolves the first value that is neither undefined nor false', async () => {
    let calls = 0;
    const value = await waitUntil(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('waitUntil() rejects, naming the condition, when it never holds in time', async () => {
    await expect(waitUntil(() => false, { timeoutMs: 50, intervalMs: 5, description: 'the impossible' })).rejects.toThrow(/the impossible/);
  });

  it('testEnvelope() builds a valid envelope for the queue with overrides', () => {
    const envelope = testEnvelope('q', { priority: 5 });
    expect(envelope).toMatchObject({ v: 1, queue: 'q', priority: 5, name: 'contract-job' });
  });
});
