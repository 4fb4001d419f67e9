/**
 * queuekit quick start: defines four jobs, dispatches them with then / catch / finally / chain,
 * and runs a worker that processes them, printing each step. Run it with `pnpm demo`.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineJob, describeResult, RetryPolicy, UnrecoverableError, Worker } from '@queuekit/core';
import { createSqliteDriver } from '@queuekit/driver-database';

const t0 = Date.now();
const say = (line: string) => console.log(`${String(Date.now() - t0).padStart(5)} ms  ${line}`);

// 1. Define jobs: a name, a typed payload, a handler. Results flow to follow-ups as ctx.parent.
const resizeImage = defineJob('resize-image', async (p: { imageId: string; width: number }) => {
  say(`resize-image   ${p.imageId} to ${p.width}px`);
  return { imageId: p.imageId, url: `https://cdn.example/${p.imageId}-${p.width}.jpg` };
});

let chargeCalls = 0;
const chargeCard = defineJob('charge-card', async (p: { orderId: string; cents: number }, ctx) => {
  chargeCalls += 1;
  if (ctx.attempt < 2) throw new Error('card gateway timed out'); // a passing fault: retried
  if (p.cents > 100_000) throw new UnrecoverableError('amount over the limit'); // fails for good
  say(`charge-card    ${p.orderId}: charged ${p.cents / 100} on attempt ${ctx.attempt}`);
  return { receipt: `rcpt-${p.orderId}` };
});

const notify = defineJob('notify-user', async (p: { message: string }, ctx) => {
  const parent = ctx.parent;
  const outcome = parent?.status === 'failed' ? JSON.stringify(parent.error?.message) : describeResult(parent?.result);
  const from = parent ? `${parent.name} ${parent.status}: ${outcome}` : 'no parent';
  say(`notify-user    "${p.message}" (${from})`);
});

const audit = defineJob('audit', async (p: { step: string }) => {
  say(`audit          ${p.step}`);
});

// 2. A driver. SQLite is the embedded default: one file, no server. Swap in PostgreSQL or Redis
//    and nothing else changes.
const file = process.argv[2] ?? join(tmpdir(), `queuekit-demo-${process.pid}.sqlite`);
const driver = createSqliteDriver({ filename: file });
say(`queue stored in ${file}`);

// 3. Dispatch with durable callbacks: they are stored with the job and survive restarts.
await resizeImage
  .create({ imageId: 'img-42', width: 640 })
  .then(notify.create({ message: 'your thumbnail is ready' }))
  .dispatch(driver);

await chargeCard
  .create({ orderId: 'A-1', cents: 4_200 })
  .attempts(3, RetryPolicy.exponential({ delayMs: 100 }))
  .chain([audit.create({ step: 'A-1 charged' }), notify.create({ message: 'order A-1 confirmed' })])
  .catch(notify.create({ message: 'order A-1 could not be charged' }))
  .dispatch(driver);

await chargeCard
  .create({ orderId: 'B-2', cents: 250_000 })
  .attempts(3, RetryPolicy.fixed(100))
  .catch(notify.create({ message: 'order B-2 was declined' }))
  .finally(audit.create({ step: 'B-2 settled' }))
  .dispatch(driver);

say('dispatched 3 jobs with then / chain / catch / finally follow-ups');

// 4. A worker runs them (two at a time) until the queue is empty.
const worker = new Worker({ driver, jobs: [resizeImage, chargeCard, notify, audit], concurrency: 2, waitMs: 300, stopWhenEmpty: true });
worker.on('retrying', (e) => say(`retrying       ${e.name} after "${e.error.message}" in ${e.delayMs} ms`));
worker.on('dead-lettered', (e) => say(`dead-lettered  ${e.name}: ${e.error.message}`));
await worker.run();

const dead = await driver.deadLetters.list();
say(`done: ${worker.processed} deliveries, ${chargeCalls} charge attempts, ${dead.length} job(s) in the dead-letter store`);
for (const entry of dead)
  say(`  dead letter ${entry.name} ${entry.id.slice(0, 8)}…: ${entry.reason}, ${entry.attempts} attempt(s), "${entry.error.message}"`);
await driver.close();
if (process.argv[2] === undefined) for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
