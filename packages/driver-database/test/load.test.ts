import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createEnvelope, defineJob, type JobEnvelope, type QueueDriver, Worker } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresDriver, createSqliteDriver, type PostgresDriver } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomQueue, randomSchema, sql, tempDir } from './helpers.js';

const JOB = 'count';

function envelopes(queue: string, count: number, maxAttempts = 1): JobEnvelope[] {
  return Array.from({ length: count }, (_, i) => createEnvelope({ name: JOB, queue, payload: { i }, maxAttempts }));
}

async function pushAll(driver: QueueDriver, all: readonly JobEnvelope[]): Promise<void> {
  for (let i = 0; i < all.length; i += 1_000) {
    expect((await driver.push(all.slice(i, i + 1_000))).skipped).toEqual([]);
  }
}

/** Runs workers until `done()` or `timeoutMs`, then stops them all. */
async function runWorkers(workers: readonly Worker[], done: () => boolean, timeoutMs: number): Promise<void> {
  const running = workers.map((w) => w.run());
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all(workers.map((w) => w.stop({ graceMs: 5_000 })));
  await Promise.all(running);
}

describe('concurrent workers over 10,000 jobs', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  const cases = [
    {
      name: 'postgres',
      open: () => {
        const schema = randomSchema();
        const drivers = [0, 1, 2, 3].map(() => createPostgresDriver({ connectionString: DATABASE_URL, schema, poolSize: 6 }));
        cleanups.push(async () => {
          await Promise.all(drivers.map((d) => d.close()));
          await dropSchema(schema);
        });
        return drivers;
      },
    },
    {
      name: 'sqlite',
      open: () => {
        const dir = tempDir();
        const drivers = [0, 1].map(() => createSqliteDriver({ filename: dir.file(), pollIntervalMs: 5 }));
        cleanups.push(async () => {
          await Promise.all(drivers.map((d) => d.close()));
          dir.remove();
        });
        return drivers;
      },
    },
  ];

  it.each(cases)('$name: several drivers with 8 workers each complete every job exactly once', async ({ open }) => {
    const drivers = open();
    const queue = randomQueue();
    const all = envelopes(queue, 10_000);
    await pushAll(drivers[0]!, all);
    const runs = new Map<string, number>();
    const job = defineJob(JOB, async (_payload: unknown, ctx) => {
      runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
    });
    const workers = drivers.map((driver) => new Worker({ driver, jobs: [job], queues: [queue], concurrency: 8, waitMs: 200 }));
    const errors: Error[] = [];
    for (const w of workers) w.on('error', ({ error }) => errors.push(error));
    await runWorkers(workers, () => runs.size >= all.length, 50_000);
    expect(errors).toEqual([]);
    expect(runs.size).toBe(all.length);
    expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
    expect(all.every((e) => runs.get(e.id) === 1)).toBe(true);
    expect(await drivers[0]!.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
  });
});

describe('postgres: pg_terminate_backend mid-run', () => {
  const schema = randomSchema();
  afterEach(async () => {
    await dropSchema(schema);
  });

  it('workers reconnect after their connections are killed, and no job is lost', async () => {
    const applicationName = `queuekit-${schema}`;
    const drivers: PostgresDriver[] = [0, 1].map(() =>
      createPostgresDriver({ connectionString: DATABASE_URL, schema, applicationName, poolSize: 4, pollIntervalMs: 200 }),
    );
    try {
      const queue = randomQueue();
      // Spare attempts: a settle lost with its connection means a second delivery, never a lost job.
      const all = envelopes(queue, 3_000, 5);
      await pushAll(drivers[0]!, all);
      const runs = new Map<string, number>();
      const job = defineJob(JOB, async (_payload: unknown, ctx) => {
        runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 1));
      });
      const workers = drivers.map(
        (driver) => new Worker({ driver, jobs: [job], queues: [queue], concurrency: 4, leaseMs: 2_000, waitMs: 500, errorBackoffMs: 50 }),
      );
      let killed = 0;
      let kills = 0;
      const running = workers.map((w) => w.run());
      const deadline = Date.now() + 50_000;
      while (runs.size < all.length && Date.now() < deadline) {
        // Kill every connection of both drivers (pool and LISTEN) twice, at 1/3 and 2/3 of the run.
        if ((kills === 0 && runs.size > all.length / 3) || (kills === 1 && runs.size > (2 * all.length) / 3)) {
          kills += 1;
          const rows = await sql<{ n: number }>(
            'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
            [applicationName],
          );
          killed += rows[0]?.n ?? 0;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await Promise.all(workers.map((w) => w.stop({ graceMs: 5_000 })));
      await Promise.all(running);

      expect(kills).toBe(2);
      expect(killed).toBeGreaterThanOrEqual(4);
      // Both drivers saw their connections die (at least the LISTEN one) and carried on.
      expect(drivers.every((driver) => driver.recoveredErrors > 0)).toBe(true);
      expect(runs.size).toBe(all.length);
      expect(all.every((e) => (runs.get(e.id) ?? 0) >= 1)).toBe(true);
      const stats = await drivers[0]!.stats(queue);
      expect(stats).toMatchObject({ ready: 0, delayed: 0, dead: 0 });
      const duplicates = [...runs.values()].filter((n) => n > 1).length;
      console.log(
        `pg_terminate_backend: killed ${killed} connections in 2 rounds; ${duplicates} of ${all.length} jobs ran twice (at-least-once)`,
      );
    } finally {
      await Promise.all(drivers.map((d) => d.close()));
    }
  });
});

describe('sqlite: two worker processes on one file', () => {
  it('drain one queue together, each job completed exactly once', async () => {
    const dir = tempDir();
    try {
      const driver = createSqliteDriver({ filename: dir.file() });
      const queue = randomQueue();
      const all = envelopes(queue, 4_000);
      await pushAll(driver, all);
      await driver.close();
      const child = fileURLToPath(new URL('./fixtures/sqlite-drain-child.ts', import.meta.url));
      const procs = [0, 1].map(() =>
        spawn(process.execPath, ['--conditions=source', '--import', 'tsx', child, dir.file(), queue, '4'], {
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      );
      let ready = 0;
      const outputs = await Promise.all(
        procs.map(
          (proc) =>
            new Promise<string[]>((resolve, reject) => {
              let out = '';
              let err = '';
              const timer = setTimeout(() => proc.kill('SIGKILL'), 50_000);
              proc.stdout.on('data', (chunk: Buffer) => {
                if (!out.includes('ready\n') && (out + chunk.toString()).includes('ready\n')) {
                  ready += 1;
                  // Both are open: start them together.
                  if (ready === procs.length) for (const p of procs) p.stdin.end('go\n');
                }
                out += chunk.toString();
              });
              proc.stderr.on('data', (chunk: Buffer) => {
                err += chunk.toString();
              });
              proc.on('exit', (code) => {
                clearTimeout(timer);
                if (code === 0) resolve(out.split('\n').filter(Boolean));
                else reject(new Error(`child exited with ${code}: ${err}`));
              });
            }),
        ),
      );
      const done = outputs.map((lines) => lines.filter((l) => l.startsWith('done ')).map((l) => l.slice(5)));
      // Both processes took part, and together they completed every job exactly once.
      expect(done[0]!.length).toBeGreaterThan(0);
      expect(done[1]!.length).toBeGreaterThan(0);
      const counts = new Map<string, number>();
      for (const id of done.flat()) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect(counts.size).toBe(all.length);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(outputs.every((lines) => lines.some((l) => l.startsWith('exit ')))).toBe(true);
      const check = createSqliteDriver({ filename: dir.file() });
      expect(await check.stats(queue)).toMatchObject({ ready: 0, reserved: 0, dead: 0 });
      await check.close();
    } finally {
      dir.remove();
    }
  });
});
