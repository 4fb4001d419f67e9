import { createEnvelope, QueueManager } from '@queuekit/core';
import { createMemoryDriver } from '@queuekit/core/testing';
import { describe, expect, it } from 'vitest';
import { collectOverview } from '../src/index.js';

describe('collectOverview', () => {
  it('lists problems worst first: an unreachable connection, a threshold, then warnings and a broken schedule', async () => {
    // Keeps no completed jobs and no recorder observes it: no rates to show.
    const driver = createMemoryDriver({ retention: false });
    const manager = new QueueManager({
      default: 'main',
      connections: {
        main: { driver: 'memory', create: () => driver },
        down: {
          driver: 'memory',
          create: () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:1');
          },
        },
      },
    });
    await driver.push(Array.from({ length: 4 }, () => createEnvelope({ name: 'n', queue: 'default' })));
    const model = await collectOverview({
      manager,
      thresholds: { maxReady: 3 },
      schedules: [
        { name: 'ok', cron: '*/5 * * * *' },
        { name: 'broken', cron: 'not a cron' },
      ],
    });
    expect(model.health.status).toBe('unreachable');
    expect(model.problems.map((p) => p.severity)).toEqual(['unreachable', 'degraded', 'degraded', 'warning']);
    expect(model.problems[0]?.message).toContain('ECONNREFUSED');
    expect(model.problems.some((p) => p.message === 'ready 4 > max 3')).toBe(true);
    expect(model.problems.some((p) => p.message.startsWith('schedule broken: scheduler: schedule "broken": invalid cron'))).toBe(true);
    expect(model.problems.at(-1)?.message).toBe('4 ready, no worker seen');
    const ok = model.schedules.find((s) => s.name === 'ok');
    expect((ok?.nextTickAt as number) - (ok?.lastTickAt as number)).toBe(5 * 60_000);
    expect(model.rates).toBeNull();
    expect(model.capabilities.main?.delay).toBe('emulated');
    await manager.close();
  });
});
