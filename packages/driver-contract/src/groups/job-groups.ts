import { defineJob, type JobEnvelope, type QueueDriver, type Reservation, Worker } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { CRASH_JOB_NAME, type CrashChild, spawnCrashChild } from '../crash-protocol.js';
import { sleep, testEnvelope, waitUntil } from '../helpers.js';

/** A per-group concurrency no test reaches: the claim takes turns between groups and limits nothing. */
const UNLIMITED = 100_000;

/**
 * Job groups (`JobEnvelope.group`) claimed group by group (`groupConcurrency`): turns between the
 * groups of a queue (the ungrouped jobs are one more turn), priority then FIFO within a group, and
 * at most `groupConcurrency` unexpired leases per group across every claimer, enforced by the backend.
 */
export function describeJobGroups(f: ContractFixture): void {
  const caps = f.capabilities;

  describe.skipIf(!caps.groups || caps.inline)('job groups (capability: groups)', () => {
    /** Pushes in slices, as a producer of a large backlog would. */
    const pushAll = async (envelopes: readonly JobEnvelope[]) => {
      for (let i = 0; i < envelopes.length; i += 500) await f.driver().push(envelopes.slice(i, i + 500));
    };
    const grouped = (queue: string, group: string | undefined, count: number, init: { priority?: number } = {}) =>
      Array.from({ length: count }, (_, i) =>
        testEnvelope(queue, { payload: { group: group ?? null, i }, ...init, ...(group === undefined ? {} : { group }) }),
      );
    const reserve = (driver: QueueDriver, queue: string, groupConcurrency: number, leaseMs = 30_000) =>
      driver.reserve([queue], { leaseMs, waitMs: 0, groupConcurrency });

    it('a job keeps its group through push and claim; a job without one has none', async () => {
      const queue = f.queue();
      const [withGroup] = grouped(queue, 'tenant-1', 1);
      const [without] = grouped(queue, undefined, 1);
      await f.driver().push([withGroup!, without!]);
      const first = await reserve(f.driver(), queue, UNLIMITED);
      const second = await reserve(f.driver(), queue, UNLIMITED);
      const byId = new Map([first, second].map((r) => [r?.id, r?.envelope]));
      expect(byId.get(withGroup!.id)?.group).toBe('tenant-1');
      expect(byId.get(without!.id)).toBeDefined();
      expect(byId.get(without!.id)?.group).toBeUndefined();
    });

    it.skipIf(!caps.batch)(
      "one claim of many jobs takes each group's best jobs up to groupConcurrency, in priority then FIFO order, and every ungrouped job",
      async () => {
        const queue = f.queue();
        const driver = f.driver();
        if (driver.claim === undefined) throw new Error(`${driver.name} declares capabilities.batch but lacks claim`);
        const a = [...grouped(queue, 'a', 2, { priority: 30 }), ...grouped(queue, 'a', 2, { priority: 5 })];
        const b = grouped(queue, 'b', 3);
        const ungrouped = grouped(queue, undefined, 3);
        await f.driver().push([...a, ...b, ...ungrouped]);
        const claimed = await driver.claim([queue], { max: 20, leaseMs: 30_000, waitMs: 0, groupConcurrency: 2 });
        const of = (group: string | undefined) => claimed.filter((r) => r.envelope?.group === group).map((r) => r.id);
        expect(of('a')).toEqual([a[2]!.id, a[3]!.id]);
        expect(of('b')).toEqual([b[0]!.id, b[1]!.id]);
        expect(of(undefined)).toEqual(ungrouped.map((e) => e.id));
        expect(claimed).toHaveLength(7);
        // The groups' other jobs wait for a lease of their group to end.
        expect(await driver.claim([queue], { max: 20, leaseMs: 30_000, waitMs: 0, groupConcurrency: 2 })).toEqual([]);
      },
    );

    it('a claim finds the one group with room behind 40 groups at their limit', async () => {
      const queue = f.queue();
      const driver = f.driver();
      const busy = Array.from({ length: 40 }, (_, i) => grouped(queue, `busy-${i}`, 2)).flat();
      await pushAll(busy);
      const held: Reservation[] = [];
      for (let i = 0; i < 40; i += 1) {
        const reservation = await reserve(driver, queue, 1);
        expect(reservation).toBeDefined();
        held.push(reservation!);
      }
      expect(new Set(held.map((r) => r.envelope?.group)).size).toBe(40);
      const [free] = grouped(queue, 'free', 1);
      await driver.push([free!]);
      expect((await reserve(driver, queue, 1))?.id).toBe(free!.id);
      expect(await reserve(driver, queue, 1)).toBeUndefined();
    });

    it("a group with 2,000 queued jobs holds up another group's single job by a few claims at most", async () => {
      const queue = f.queue();
      await pushAll(grouped(queue, 'big', 2_000));
      const [b] = grouped(queue, 'small-b', 1);
      const [c] = grouped(queue, 'small-c', 1);
      await f.driver().push([b!, c!]);
      const claimed: Reservation[] = [];
      for (let i = 0; i < 5; i += 1) {
        const reservation = await reserve(f.driver(), queue, UNLIMITED);
        if (reservation !== undefined) claimed.push(reservation);
      }
      const ids = claimed.map((r) => r.id);
      expect(ids).toContain(b!.id);
      expect(ids).toContain(c!.id);
      expect(claimed.filter((r) => r.envelope?.group === 'big').length).toBeGreaterThanOrEqual(1);
      for (const reservation of claimed) await f.driver().ack(reservation);
    });

    it.skipIf(!caps.batch)('one claim of several jobs takes them from several groups in turn, not all from the first', async () => {
      const queue = f.queue();
      await pushAll(grouped(queue, 'big', 500));
      const [b] = grouped(queue, 'small-b', 1);
      const [c] = grouped(queue, 'small-c', 1);
      await f.driver().push([b!, c!]);
      const claimed = await f.driver().claim!([queue], { leaseMs: 30_000, waitMs: 0, max: 4, groupConcurrency: UNLIMITED });
      const ids = claimed.map((r) => r.id);
      expect(ids).toContain(b!.id);
      expect(ids).toContain(c!.id);
      expect(claimed.length).toBe(4);
      const { claimed: next } = await f.driver().ackAndClaim!(claimed, [queue], { leaseMs: 30_000, max: 2, groupConcurrency: UNLIMITED });
      expect(next.map((r) => r.envelope?.group)).toEqual(['big', 'big']);
      for (const reservation of next) await f.driver().ack(reservation);
    });

    it('the ungrouped jobs of a queue take their turn as one more group', async () => {
      const queue = f.queue();
      await pushAll(grouped(queue, 'big', 200));
      await pushAll(grouped(queue, undefined, 200));
      const [c] = grouped(queue, 'small-c', 1);
      await f.driver().push([c!]);
      const groups: (string | undefined)[] = [];
      for (let i = 0; i < 6; i += 1) {
        const reservation = await reserve(f.driver(), queue, UNLIMITED);
        expect(reservation).toBeDefined();
        groups.push(reservation!.envelope?.group);
        await f.driver().ack(reservation!);
      }
      expect(groups.filter((g) => g === undefined).length).toBeGreaterThanOrEqual(1);
      expect(groups.filter((g) => g === 'big').length).toBeGreaterThanOrEqual(1);
      expect(groups).toContain('small-c');
    });

    it('within a group, jobs come in priority order, then first in first out', async () => {
      const queue = f.queue();
      const low = grouped(queue, 'g', 2, { priority: 30 });
      const high = grouped(queue, 'g', 2, { priority: 5 });
      await f.driver().push([...low, ...high]);
      const order: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const reservation = await reserve(f.driver(), queue, UNLIMITED);
        order.push(reservation!.id);
        await f.driver().ack(reservation!);
      }
      expect(order).toEqual([...high, ...low].map((e) => e.id));
    });

    it('with groupConcurrency 1, concurrent claimers never lease two jobs of one group at once', async () => {
      const queue = f.queue();
      await pushAll([...grouped(queue, 'a', 20), ...grouped(queue, 'b', 20)]);
      const drivers = [f.driver(), ...(await Promise.all([f.openDriver(), f.openDriver(), f.openDriver()]))];
      const claimed: Reservation[] = [];
      await Promise.all(
        drivers.map(async (driver) => {
          for (let i = 0; i < 5; i += 1) {
            const batch =
              caps.batch && i % 2 === 1
                ? await driver.claim!([queue], { leaseMs: 30_000, waitMs: 0, max: 3, groupConcurrency: 1 })
                : [await reserve(driver, queue, 1)].filter((r): r is Reservation => r !== undefined);
            claimed.push(...batch);
          }
        }),
      );
      expect(claimed.map((r) => r.envelope?.group).sort()).toEqual(['a', 'b']);
      const stats = await f.driver().stats(queue);
      expect(stats.reserved).toBe(2);
      expect(stats.ready).toBe(38);
    });

    it('with groupConcurrency 2, eight claimers claiming and acknowledging at once never hold more than 2 jobs of a group', {
      timeout: 60_000,
    }, async () => {
      const queue = f.queue();
      const groups = ['a', 'b', 'c', 'd', 'e'];
      await pushAll(groups.flatMap((group) => grouped(queue, group, 24)));
      const drivers = [f.driver(), ...(await Promise.all(Array.from({ length: 3 }, () => f.openDriver())))];
      const held = new Map<string, number>();
      let most = 0;
      let done = 0;
      const claimer = async (driver: QueueDriver, index: number) => {
        for (let idle = 0; idle < 20 && done < groups.length * 24; ) {
          const batch =
            caps.batch && index % 2 === 1
              ? await driver.claim!([queue], { leaseMs: 30_000, waitMs: 0, max: 3, groupConcurrency: 2 })
              : [await reserve(driver, queue, 2)].filter((r): r is Reservation => r !== undefined);
          if (batch.length === 0) {
            idle += 1;
            await sleep(5);
            continue;
          }
          for (const reservation of batch) {
            const group = reservation.envelope?.group ?? '';
            held.set(group, (held.get(group) ?? 0) + 1);
            most = Math.max(most, held.get(group)!);
          }
          await sleep(2);
          for (const reservation of batch) {
            // Counted out before the ack is sent: the backend still counts it until the ack lands.
            held.set(reservation.envelope?.group ?? '', held.get(reservation.envelope?.group ?? '')! - 1);
            await driver.ack(reservation);
            done += 1;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, index) => claimer(drivers[index % drivers.length]!, index)));
      expect(done).toBe(groups.length * 24);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(2);
    });

    it("a group's next job is claimable once its active job is acknowledged, released, or its lease runs out", async () => {
      const queue = f.queue();
      await pushAll(grouped(queue, 'a', 5));
      const driver = f.driver();
      const first = await reserve(driver, queue, 1);
      expect(first).toBeDefined();
      expect(await reserve(driver, queue, 1)).toBeUndefined();
      await driver.ack(first!);
      const second = await reserve(driver, queue, 1);
      expect(second).toBeDefined();
      expect(await reserve(driver, queue, 1)).toBeUndefined();
      await driver.release(second!, { delayMs: 0 });
      const third = await reserve(driver, queue, 1, 500);
      expect(third).toBeDefined();
      expect(await reserve(driver, queue, 1)).toBeUndefined();
      // The third delivery's lease runs out unsettled: the group is free again.
      const fourth = await waitUntil(() => reserve(driver, queue, 1), {
        timeoutMs: 10_000,
        description: 'a claim after the lease ran out',
      });
      expect(fourth.id).not.toBe('');
      expect(await reserve(driver, queue, 1)).toBeUndefined();
      await driver.ack(fourth);
      // Concurrency 2 lets two of the group's jobs be leased at once.
      const two = [await reserve(driver, queue, 2), await reserve(driver, queue, 2), await reserve(driver, queue, 2)];
      expect(two.filter((r) => r !== undefined).length).toBe(2);
    });

    it('a group whose jobs all finished has its next job claimed when one is pushed again', async () => {
      const queue = f.queue();
      const driver = f.driver();
      const [first] = grouped(queue, 'again', 1);
      await driver.push([first!]);
      const claimed = await reserve(driver, queue, 1);
      expect(claimed?.id).toBe(first!.id);
      await driver.ack(claimed!);
      expect(await reserve(driver, queue, 1)).toBeUndefined();
      const [second] = grouped(queue, 'again', 1);
      const [ungrouped] = grouped(queue, undefined, 1);
      await driver.push([second!, ungrouped!]);
      const next = [await reserve(driver, queue, 1), await reserve(driver, queue, 1)];
      expect(next.map((r) => r?.id).sort()).toEqual([second!.id, ungrouped!.id].sort());
    });

    it('a grouped claim on a queue whose jobs have no group hands them all out: the ungrouped lane has no bound', async () => {
      const queue = f.queue();
      const jobs = grouped(queue, undefined, 5);
      await f.driver().push(jobs);
      const claimed: Reservation[] = [];
      for (let i = 0; i < 5; i += 1) {
        const reservation = await reserve(f.driver(), queue, 1);
        if (reservation !== undefined) claimed.push(reservation);
      }
      expect(claimed.map((r) => r.id).sort()).toEqual(jobs.map((j) => j.id).sort());
      for (const reservation of claimed) await f.driver().ack(reservation);
    });

    it('claims without groupConcurrency ignore groups: priority, then first in first out', async () => {
      const queue = f.queue();
      const envelopes = [...grouped(queue, 'a', 3), ...grouped(queue, 'b', 1)];
      await f.driver().push(envelopes);
      const order: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const reservation = await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 0 });
        order.push(reservation!.id);
      }
      expect(order).toEqual(envelopes.map((e) => e.id));
    });

    it('a Worker with groups: { concurrency: 1 } runs every job to completion, never two of one group at once', {
      timeout: 60_000,
    }, async () => {
      const queue = f.queue();
      const running = new Map<string, number>();
      const most = new Map<string, number>();
      let overall = 0;
      let overallMost = 0;
      const job = defineJob(CRASH_JOB_NAME, async (payload: { group: string }) => {
        const now = (running.get(payload.group) ?? 0) + 1;
        running.set(payload.group, now);
        most.set(payload.group, Math.max(most.get(payload.group) ?? 0, now));
        overall += 1;
        overallMost = Math.max(overallMost, overall);
        await sleep(15);
        overall -= 1;
        running.set(payload.group, (running.get(payload.group) ?? 1) - 1);
      });
      const envelopes = ['g1', 'g2', 'g3'].flatMap((group) =>
        Array.from({ length: 8 }, () => testEnvelope(queue, { name: CRASH_JOB_NAME, group, payload: { group } })),
      );
      await f.driver().push(envelopes);
      const worker = new Worker({
        driver: f.driver(),
        jobs: [job],
        queues: [queue],
        concurrency: 4,
        waitMs: 50,
        groups: { concurrency: 1 },
      });
      const completed = new Set<string>();
      worker.on('completed', (event) => completed.add(event.id));
      const run = worker.run();
      try {
        await waitUntil(() => completed.size === envelopes.length, { timeoutMs: 40_000, description: 'every grouped job to complete' });
      } finally {
        await worker.stop({ graceMs: 1_000 });
        await run;
      }
      expect([...most.values()]).toEqual([1, 1, 1]);
      // The worker's other slots ran the other groups meanwhile (three groups, four slots).
      expect(overallMost).toBeGreaterThan(1);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, reserved: 0, dead: 0 });
    });

    describe.skipIf(f.options.childDriverModule === undefined || caps.lease === 'none')(
      'across worker processes (needs childDriverModule)',
      () => {
        const children = new Set<CrashChild>();
        afterEach(async () => {
          for (const child of children) {
            if (!child.hasExited()) child.process.kill('SIGKILL');
            await child.exited;
          }
          children.clear();
        });

        it('per-group concurrency 1 never runs two jobs of a group at once across 4 worker processes', { timeout: 120_000 }, async () => {
          const queue = f.queue();
          const groupOf = new Map<string, string>();
          // More groups than one worker runs at once: jobs a worker claims ahead and cannot start
          // go back (given back unrun) and the other processes take them.
          const envelopes = Array.from({ length: 10 }, (_, g) => `g${g}`).flatMap((group) =>
            Array.from({ length: 4 }, (_, i) => {
              const envelope = testEnvelope(queue, { name: CRASH_JOB_NAME, group, payload: { ms: 20 + ((i * 17) % 30) } });
              groupOf.set(envelope.id, group);
              return envelope;
            }),
          );
          const all = Array.from({ length: 4 }, () =>
            spawnCrashChild(f.options.childDriverModule!, queue, { mode: 'chaos', concurrency: 2, waitMs: 200, groupConcurrency: 1 }),
          );
          for (const child of all) children.add(child);
          // Every process is claiming before the jobs arrive, so that more than one takes part.
          await waitUntil(() => all.every((child) => child.lines.includes('ready')) || all.some((child) => child.hasExited()), {
            timeoutMs: 30_000,
            description: 'the 4 worker processes to start',
          });
          await f.driver().push(envelopes);
          const done = async () => {
            const stats = await f.driver().stats(queue);
            return stats.ready + stats.delayed + stats.reserved === 0;
          };
          await waitUntil(done, {
            timeoutMs: 90_000,
            intervalMs: 200,
            description: `all ${envelopes.length} grouped jobs to be acknowledged`,
          });
          for (const child of all) child.process.kill('SIGTERM');
          await Promise.all(all.map((child) => child.exited));

          const runs: { id: string; group: string; pid: number; startedAt: number; endedAt: number }[] = [];
          const open = new Map<string, { pid: number; startedAt: number }>();
          for (const line of all.flatMap((child) => child.lines)) {
            const [kind, id, a, b, c] = line.split(' ');
            if (kind === 'start') open.set(id!, { pid: Number(b), startedAt: Number(c) });
            else if (kind === 'end') {
              const started = open.get(id!);
              if (started !== undefined) runs.push({ id: id!, group: groupOf.get(id!)!, ...started, endedAt: Number(b) });
            }
            void a;
          }
          const stderr = all.map((child) => child.stderr).join('');
          expect(new Set(runs.map((r) => r.id)).size, stderr.slice(-2_000)).toBe(envelopes.length);
          expect(new Set(runs.map((r) => r.pid)).size).toBeGreaterThan(1);
          const overlaps: string[] = [];
          for (const x of runs) {
            for (const y of runs) {
              if (x === y || x.group !== y.group) continue;
              if (x.startedAt < y.startedAt && y.startedAt < x.endedAt)
                overlaps.push(`${x.group}: ${x.id} (pid ${x.pid}) and ${y.id} (pid ${y.pid})`);
            }
          }
          expect(overlaps).toEqual([]);
        });
      },
    );
  });
}
