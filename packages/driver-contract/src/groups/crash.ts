import { defineJob, Worker } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { CRASH_JOB_NAME, type CrashChild, spawnCrashChild } from '../crash-protocol.js';
import { sleep, testEnvelope, waitUntil } from '../helpers.js';

const LEASE_MS = 1_000;

/** A worker process killed with SIGKILL mid-job; a job that kills its worker every time. */
export function describeCrashRecovery(f: ContractFixture): void {
  const module = f.options.childDriverModule;
  const applicable = module !== undefined && !f.capabilities.inline && f.capabilities.lease !== 'none';

  describe.skipIf(!applicable)('crash recovery (needs childDriverModule and leases)', () => {
    const children = new Set<CrashChild>();

    afterEach(async () => {
      for (const child of children) {
        if (!child.hasExited()) child.process.kill('SIGKILL');
        await child.exited;
      }
      children.clear();
    });

    const spawn = (queue: string, mode: 'hang' | 'kill-self'): CrashChild => {
      const child = spawnCrashChild(module!, queue, mode, LEASE_MS);
      children.add(child);
      return child;
    };

    const describeChild = (child: CrashChild): string => `child output: ${child.lines.join(' | ')}; stderr: ${child.stderr.slice(-2_000)}`;

    it('a job whose worker is killed with SIGKILL mid-job is delivered again after its lease and completes', {
      timeout: 60_000,
    }, async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue, { name: CRASH_JOB_NAME, maxAttempts: 3, payload: { crash: 'hang' } });
      await f.driver().push([envelope]);

      const child = spawn(queue, 'hang');
      await waitUntil(() => child.lines.some((line) => line.startsWith(`started ${envelope.id} 1`)) || child.hasExited(), {
        timeoutMs: 30_000,
        description: 'the child worker to start the job',
      });
      expect(child.hasExited(), describeChild(child)).toBe(false);
      child.process.kill('SIGKILL');
      expect(await child.exited).toBe('SIGKILL');

      const attempts: number[] = [];
      const job = defineJob(CRASH_JOB_NAME, async (_payload: unknown, ctx) => {
        attempts.push(ctx.attempt);
        return 'done';
      });
      const worker = new Worker({ driver: f.driver(), jobs: [job], queues: [queue], leaseMs: 30_000, waitMs: 200 });
      const completed: string[] = [];
      worker.on('completed', (event) => completed.push(event.id));
      const running = worker.run();
      try {
        await waitUntil(() => completed.length > 0, { timeoutMs: 20_000, description: 'the job to complete after the lease ran out' });
        await sleep(100);
      } finally {
        await worker.stop();
        await running;
      }
      expect(completed).toEqual([envelope.id]);
      expect(attempts).toEqual([2]);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
      expect(await f.driver().deadLetters.get(envelope.id)).toBeUndefined();
    });

    it('a job that kills its worker every time ends in the dead-letter store after maxAttempts instead of looping', {
      timeout: 120_000,
    }, async () => {
      const queue = f.queue();
      const maxAttempts = 3;
      const envelope = testEnvelope(queue, { name: CRASH_JOB_NAME, maxAttempts, payload: { crash: 'kill-self' } });
      await f.driver().push([envelope]);

      let starts = 0;
      let spawned = 0;
      // Each delivery kills its worker; once the count passes maxAttempts the next worker
      // dead-letters the job instead of running it. A few spare spawns bound the loop.
      for (; spawned < maxAttempts + 3; spawned += 1) {
        const child = spawn(queue, 'kill-self');
        const outcome = await waitUntil(
          async () => {
            if (child.hasExited()) return 'exited';
            if ((await f.driver().deadLetters.get(envelope.id)) !== undefined) return 'dead-lettered';
            return undefined;
          },
          { timeoutMs: 30_000, intervalMs: 50, description: `child ${spawned + 1} to die or the job to be dead-lettered` },
        );
        if (outcome === 'dead-lettered' && !child.hasExited()) child.process.kill('SIGKILL');
        await child.exited;
        starts += child.lines.filter((line) => line.startsWith(`started ${envelope.id}`)).length;
        if (outcome === 'dead-lettered') break;
        expect(
          child.lines.some((line) => line.startsWith(`started ${envelope.id}`)),
          describeChild(child),
        ).toBe(true);
      }

      const entry = await f.driver().deadLetters.get(envelope.id);
      expect(entry, `not dead-lettered after ${spawned} worker processes`).toBeDefined();
      expect(['max-deliveries', 'failed']).toContain(entry?.reason);
      expect(entry?.attempts).toBeGreaterThanOrEqual(maxAttempts);
      expect(entry?.queue).toBe(queue);
      expect(starts).toBe(maxAttempts);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 1 });
    });
  });
}
