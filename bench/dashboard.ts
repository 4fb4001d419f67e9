import { createEnvelope, QueueManager } from '@queuekit/core';
import { encodeFinishedJob } from '@queuekit/core/driver';
import { createDashboard } from '@queuekit/dashboard';
import { createPostgresDriver } from '@queuekit/driver-database';
import pg from 'pg';
import { flag, nowMs, percentile } from './lib.js';

/**
 * Page load of the dashboard with many jobs queued on PostgreSQL (default 100,000 ready jobs,
 * plus delayed jobs, dead letters and 1,000 completed jobs kept, the default retention, whose
 * records the overview reads for its rates): each page is requested `--rounds` times over HTTP (Node's
 * http through @hono/node-server, as `queue dashboard` serves it), after one warm-up request, and
 * the time to the whole HTML body is reported (p50, p95, max). A benchmark, not a test: run it
 * under the heavy lock (`flock /tmp/qk-heavy.lock pnpm --filter @queuekit/bench dashboard`).
 */
const args = process.argv.slice(2);
const url = flag(args, '--url') ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const jobs = Number(flag(args, '--jobs') ?? 100_000);
const dead = Number(flag(args, '--dead') ?? 1_000);
const completed = Number(flag(args, '--completed') ?? 1_000);
const rounds = Number(flag(args, '--rounds') ?? 30);
const schema = `qkbench_dash_${Date.now().toString(36)}`;

const manager = new QueueManager({
  connections: { main: { driver: 'postgres', create: () => createPostgresDriver({ connectionString: url, schema }) } },
});
const driver = await manager.connection();
const { serve } = await import('@hono/node-server');

try {
  const started = nowMs();
  for (let i = 0; i < jobs; i += 2_000) {
    const count = Math.min(2_000, jobs - i);
    await driver.push(Array.from({ length: count }, (_, n) => createEnvelope({ name: 'report', queue: 'default', payload: { n: i + n } })));
  }
  await driver.push(
    Array.from({ length: 1_000 }, () => createEnvelope({ name: 'mail', queue: 'mail', availableAt: Date.now() + 3_600_000 })),
  );
  for (let i = 0; i < dead; i += 1) {
    const reservation = await driver.reserve(['default'], { leaseMs: 60_000, waitMs: 0 });
    if (reservation === undefined) break;
    const now = Date.now();
    await driver.deadLetter(reservation, {
      reason: 'failed',
      error: { name: 'Error', message: i % 3 === 0 ? 'SMTP timeout' : `bad address ${i % 7}` },
      attempts: 1,
      firstFailedAt: now,
      failedAt: now,
    });
  }
  for (let i = 0; i < completed; i += 1) {
    const reservation = await driver.reserve(['default'], { leaseMs: 60_000, waitMs: 0 });
    if (reservation === undefined) break;
    const now = Date.now();
    const record = encodeFinishedJob({
      id: reservation.id,
      queue: 'default',
      name: 'report',
      state: 'completed',
      attempts: 1,
      createdAt: reservation.envelope?.createdAt,
      availableAt: reservation.envelope?.availableAt ?? now,
      startedAt: now - 5,
      finishedAt: now,
    });
    await driver.ack(reservation, { record });
  }
  console.log(
    `seeded ${jobs} jobs (${dead} of them dead-lettered, ${completed} completed and kept) and 1,000 delayed in ${Math.round(nowMs() - started)} ms`,
  );

  const handler = createDashboard({ manager, queues: ['default', 'mail'], thresholds: { maxReady: 50_000 } });
  const server = await new Promise<{ port: number; close(): void }>((resolve) => {
    const s = serve({ fetch: handler, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ port: info.port, close: () => s.close() }));
  });
  const pages = ['/', '/fragments/overview', '/connections/main/queues/default', '/connections/main/dead', '/api/health'];
  console.log(`\n| page | p50 ms | p95 ms | max ms | bytes |\n|---|---|---|---|---|`);
  for (const path of pages) {
    const target = `http://127.0.0.1:${server.port}${path}`;
    await (await fetch(target)).text();
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < rounds; r += 1) {
      const t0 = nowMs();
      const response = await fetch(target);
      const body = await response.text();
      times.push(nowMs() - t0);
      if (response.status !== 200) throw new Error(`${path}: status ${response.status}`);
      bytes = body.length;
    }
    const fmt = (v: number) => v.toFixed(1);
    console.log(`| ${path} | ${fmt(percentile(times, 50))} | ${fmt(percentile(times, 95))} | ${fmt(Math.max(...times))} | ${bytes} |`);
  }
  server.close();
} finally {
  await manager.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
}
