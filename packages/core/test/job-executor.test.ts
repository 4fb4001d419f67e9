import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineJob, JobExecutor, JobRegistry, silentLogger } from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('JobExecutor heartbeat', () => {
  it.each([
    { leaseMs: 300, heartbeatMs: 100 },
    { leaseMs: 300, heartbeatMs: 240 },
  ])(
    'renews a running job within heartbeatMs of the last renewal (lease $leaseMs, heartbeat $heartbeatMs)',
    async ({ leaseMs, heartbeatMs }) => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
      const driver = createMemoryDriver();
      const renewals: { id: string; at: number }[] = [];
      const extend = driver.extend.bind(driver);
      driver.extend = async (reservation, ms) => {
        renewals.push({ id: reservation.id, at: Date.now() });
        return extend(reservation, ms);
      };
      const slow = defineJob('slow', () => new Promise<void>((resolve) => setTimeout(resolve, 2_000)));
      await slow.create({}).dispatch(driver);
      await slow.create({}).dispatch(driver);
      const executor = new JobExecutor({
        driver,
        registry: new JobRegistry([slow]),
        logger: silentLogger,
        emit: () => {},
        leaseMs,
        heartbeatMs,
      });
      // The first job starts the shared heartbeat timer; the second starts between its ticks.
      const first = await driver.reserve(['default'], { leaseMs, waitMs: 0 });
      const firstOutcome = executor.execute(first!);
      await vi.advanceTimersByTimeAsync(Math.round(heartbeatMs * 0.55));
      const second = await driver.reserve(['default'], { leaseMs, waitMs: 0 });
      const started = Date.now();
      const outcome = executor.execute(second!);
      await vi.advanceTimersByTimeAsync(2_100);
      expect(await firstOutcome).toBe('completed');
      expect(await outcome).toBe('completed');
      const own = renewals.filter((r) => r.id === second!.id).map((r) => r.at);
      expect(own.length).toBeGreaterThanOrEqual(Math.floor(2_000 / heartbeatMs));
      const gaps = [own[0]! - started, ...own.slice(1).map((at, i) => at - own[i]!)];
      expect(Math.max(...gaps)).toBeLessThanOrEqual(heartbeatMs);
    },
  );
});
