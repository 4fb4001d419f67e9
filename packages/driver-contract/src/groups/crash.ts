import { defineJob, type Reservation, Worker } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { CRASH_JOB_NAME, type CrashChild, type CrashChildOptions, spawnCrashChild } from '../crash-protocol.js';
import { sleep, testEnvelope, waitUntil } from '../helpers.js';

const LEASE_MS = 1_000;

/**
 * Worker processes killed with SIGKILL mid-job, stopped with SIGTERM mid-job, a job that kills its
 * worker every time, and a bounded chaos run of several workers under repeated kills: nothing is
 * lost, no lost delivery counts as an attempt, and nothing runs twice at once while a lease holds.
 */
export function describeCrashRecovery(f: ContractFixture): void {
  const module = f.options.childDriverModule;
  const applicable = module !== undefined && !f.capabilities.inline && f.capabilities.lease !== 'none';

  describe.skipIf(!applicable)('crash recovery (needs childDriverModule and leases)', () => {
    const children = new Set<CrashChild>();
    const workers = new Set<Worker>();

    afterEach(async () => {
      for (const child of children) {
        if (!child.hasExited()) child.process.kill('SIGKILL');
        await child.exited;
      }
      children.clear();
      await Promise.all([...workers].map((worker) => worker.stop({ graceMs: 0 })));
      workers.clear();
    });

    const spawn = (queue: string, options: CrashChildOptions): CrashChild => {
      const child = spawnCrashChild(module!, queue, options);
      children.add(child);
      return child;
    };

    /** A worker of this process on `queue` with default settings (plus `waitMs` when given). */
    const startWorker = (queue: string, handler: (payload: unknown, reservation: Reservation | undefined) => unknown, waitMs?: number) => {
      const reservations = new Map<string, Reservation>();
      const job = defineJob(CRASH_JOB_NAME, async (payload: unknown, ctx) => handler(payload, reservations.get(ctx.id)));
      const worker = new Worker({ driver: f.driver(), jobs: [job], queues: [queue], ...(waitMs === undefined ? {} : { waitMs }) });
      worker.on('reserved', (event) => reservations.set(event.id, event.reservation));
      workers.add(worker);
      const completed: string[] = [];
      const deadLettered: string[] = [];
      worker.on('completed', (event) => completed.push(event.id));
      worker.on('dead-lettered', (event) => deadLettered.push(`${event.id} ${event.reason}`));
      const running = worker.run();
      return { worker, running, completed, deadLettered };
    };

    const describeChild = (child: CrashChild): string => `child output: ${child.lines.join(' | ')}; stderr: ${child.stderr.slice(-2_000)}`;

    const startedIn = async (child: CrashChild, id: string): Promise<void> => {
      await waitUntil(() => child.lines.some((line) => line.startsWith(`started ${id}`)) || child.hasExited(), {
        timeoutMs: 30_000,
        description: 'the child worker to start the job',
      });
      expect(child.hasExited(), describeChild(child)).toBe(false);
    };

    it('a job whose worker is killed with SIGKILL mid-job is delivered again after its lease and completes as the same attempt', {
      timeout: 60_000,
    }, async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue, { name: CRASH_JOB_NAME, maxAttempts: 3, payload: { crash: 'hang' } });
      await f.driver().push([envelope]);

      const child = spawn(queue, { mode: 'hang', leaseMs: LEASE_MS, waitMs: 200 });
      await startedIn(child, envelope.id);
      child.process.kill('SIGKILL');
      expect(await child.exited).toBe('SIGKILL');

      const seen: [number, number][] = [];
      const { completed } = startWorker(
        queue,
        (_payload, reservation) => {
          seen.push([reservation?.attempt ?? -1, reservation?.lostDeliveries ?? -1]);
          return 'done';
        },
        200,
      );
      await waitUntil(() => completed.length > 0, { timeoutMs: 20_000, description: 'the job to complete after the lease ran out' });
      await sleep(100);
      expect(completed).toEqual([envelope.id]);
      // The killed run did not fail: it is a lost delivery, and the job's attempt is still 1.
      expect(seen).toEqual([[1, 1]]);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
      expect(await f.driver().deadLetters.get(envelope.id)).toBeUndefined();
    });

    it('with default settings, a job whose worker is killed 2 s into a 20 s run starts on another worker within 5 s', {
      timeout: 60_000,
    }, async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue, { name: CRASH_JOB_NAME, payload: { crash: 'hang' } });
      await f.driver().push([envelope]);
      const child = spawn(queue, { mode: 'hang' });
      await startedIn(child, envelope.id);

      // The other worker waits with every setting at its default, as a second `queue work` would.
      let startedAt: number | undefined;
      startWorker(queue, () => {
        startedAt ??= Date.now();
      });
      await sleep(2_000);
      expect(startedAt, 'the job ran elsewhere while its worker was alive').toBeUndefined();
      const killedAt = Date.now();
      child.process.kill('SIGKILL');
      await waitUntil(() => startedAt, { timeoutMs: 30_000, description: 'another worker to start the job' });
      const recoveryMs = startedAt! - killedAt;
      expect(recoveryMs, `started ${recoveryMs} ms after the kill`).toBeLessThan(5_000);
    });

    it('a job still running when its worker gets SIGTERM is handed back after the grace period and runs next as attempt 1', {
      timeout: 60_000,
    }, async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue, { name: CRASH_JOB_NAME, payload: { crash: 'hang' } });
      await f.driver().push([envelope]);
      const child = spawn(queue, { mode: 'hang', handleSignals: true, shutdownGraceMs: 300, waitMs: 200 });
      await startedIn(child, envelope.id);
      child.process.kill('SIGTERM');
      expect(await child.exited, describeChild(child)).toBe('0');
      expect(child.lines).toContain(`released ${envelope.id}`);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1, reserved: 0, dead: 0 });

      const seen: [number, number][] = [];
      const { completed, deadLettered } = startWorker(
        queue,
        (_payload, reservation) => {
          seen.push([reservation?.attempt ?? -1, reservation?.lostDeliveries ?? -1]);
        },
        200,
      );
      await waitUntil(() => completed.length > 0, { timeoutMs: 10_000, description: 'the handed-back job to complete' });
      expect(seen).toEqual([[1, 0]]);
      expect(deadLettered).toEqual([]);
      expect(await f.driver().deadLetters.count({ queue })).toBe(0);
    });

    it('a job that kills its worker every time ends in the dead-letter store as max-deliveries after maxLostDeliveries + 1 runs', {
      timeout: 120_000,
    }, async () => {
      const queue = f.queue();
      const maxLostDeliveries = 2;
      const envelope = testEnvelope(queue, { name: CRASH_JOB_NAME, maxAttempts: 3, payload: { crash: 'kill-self' } });
      await f.driver().push([envelope]);

      let starts = 0;
      let spawned = 0;
      // Each delivery kills its worker; once the lost deliveries pass the limit the next worker
      // dead-letters the job instead of running it. A few spare spawns bound the loop.
      for (; spawned < maxLostDeliveries + 4; spawned += 1) {
        const child = spawn(queue, { mode: 'kill-self', leaseMs: LEASE_MS, waitMs: 200, maxLostDeliveries });
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
        const started = child.lines.filter((line) => line.startsWith(`started ${envelope.id}`));
        starts += started.length;
        // No run failed, so every run is attempt 1.
        for (const line of started) expect(line).toBe(`started ${envelope.id} 1`);
        if (outcome === 'dead-lettered') break;
        expect(started.length, describeChild(child)).toBe(1);
      }

      const entry = await f.driver().deadLetters.get(envelope.id);
      expect(entry, `not dead-lettered after ${spawned} worker processes`).toBeDefined();
      expect(entry?.reason).toBe('max-deliveries');
      expect(entry?.attempts).toBe(0);
      expect(entry?.error.message).toMatch(/lost with its worker 3 times/);
      expect(entry?.queue).toBe(queue);
      expect(starts).toBe(maxLostDeliveries + 1);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 1 });
    });

    it('chaos, default settings: 4 workers, one killed with SIGKILL about every second; every job completes, none dead-lettered, none run twice at once, no lost delivery counted as an attempt', {
      timeout: 150_000,
    }, async () => {
      const queue = f.queue();
      const JOBS = 500;
      const WORKERS = 4;
      const MAX_KILLS = 10;
      const envelopes = Array.from({ length: JOBS }, (_, i) =>
        testEnvelope(queue, { name: CRASH_JOB_NAME, payload: { ms: 20 + ((i * 37) % 81) } }),
      );
      for (let i = 0; i < JOBS; i += 100) await f.driver().push(envelopes.slice(i, i + 100));
      const options: CrashChildOptions = { mode: 'chaos', concurrency: 2 };
      const live: CrashChild[] = Array.from({ length: WORKERS }, () => spawn(queue, options));
      const all = [...live];
      const killedAt = new Map<number, number>();
      const done = async () => {
        const stats = await f.driver().stats(queue);
        return stats.ready + stats.delayed + stats.reserved === 0;
      };

      for (let kills = 0; kills < MAX_KILLS && !(await done()); kills += 1) {
        await sleep(800 + ((kills * 263) % 400));
        const victim = live.shift()!;
        if (!victim.hasExited()) {
          killedAt.set(victim.process.pid!, Date.now());
          victim.process.kill('SIGKILL');
        }
        await victim.exited;
        const replacement = spawn(queue, options);
        live.push(replacement);
        all.push(replacement);
      }
      await waitUntil(done, { timeoutMs: 90_000, intervalMs: 200, description: `all ${JOBS} jobs to be acknowledged` });
      for (const child of live) child.process.kill('SIGTERM');
      await Promise.all(live.map((child) => child.exited));

      const stderr = all.map((child) => child.stderr).join('');
      expect(await f.driver().stats(queue), stderr.slice(-2_000)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
      expect(await f.driver().deadLetters.count({ queue })).toBe(0);
      expect(killedAt.size).toBeGreaterThanOrEqual(1);

      interface Run {
        readonly pid: number;
        readonly attempt: number;
        readonly startedAt: number;
        endedAt?: number;
      }
      const runs = new Map<string, Run[]>();
      for (const line of all.flatMap((child) => child.lines)) {
        const [kind, id, a, b, c] = line.split(' ');
        if (kind === 'start') {
          const list = runs.get(id!) ?? [];
          list.push({ attempt: Number(a), pid: Number(b), startedAt: Number(c) });
          runs.set(id!, list);
        } else if (kind === 'end') {
          const run = runs.get(id!)?.find((r) => r.pid === Number(a) && r.endedAt === undefined);
          if (run !== undefined) run.endedAt = Number(b);
        } else if (kind === 'dead-lettered') {
          throw new Error(`a worker dead-lettered a job: ${line}`);
        }
      }
      const problems: string[] = [];
      for (const envelope of envelopes) {
        const list = (runs.get(envelope.id) ?? []).sort((x, y) => x.startedAt - y.startedAt);
        if (!list.some((run) => run.endedAt !== undefined)) problems.push(`${envelope.id}: never ran to its end`);
        if (list.some((run) => run.attempt !== 1)) problems.push(`${envelope.id}: ran with attempts ${list.map((r) => r.attempt)}`);
        list.forEach((run, index) => {
          const next = list[index + 1];
          if (next === undefined) return;
          // A run followed by another must have been cut short by its worker's death (or finished
          // unacknowledged when it died), and never overlap the next run while its worker lived.
          const died = killedAt.get(run.pid);
          if (died === undefined) problems.push(`${envelope.id}: ran again after a run in a worker that was not killed`);
          else if (Math.min(run.endedAt ?? died, died) > next.startedAt) problems.push(`${envelope.id}: two runs at once`);
        });
      }
      expect(problems).toEqual([]);
    });
  });
}
