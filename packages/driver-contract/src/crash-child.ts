/**
 * The worker process of the crash tests, started by the suite as
 * `node --conditions=source --import tsx crash-child.ts <driver module> <queue> <hang|kill-self> <leaseMs>`.
 *
 * It builds a driver with the module's `createDriver()` and runs a Worker on `queue` whose handler
 * prints `started <id> <attempt>` and then either hangs (the parent kills the process) or kills its
 * own process with SIGKILL. Dead letters it records are printed as `dead-lettered <id> <reason>`.
 */
import { pathToFileURL } from 'node:url';
import { defineJob, type QueueDriver, Worker } from '@queuekit/core';
import { CRASH_JOB_NAME } from './crash-protocol.js';

const [modulePath, queue, mode, leaseText] = process.argv.slice(2);
if (modulePath === undefined || queue === undefined || (mode !== 'hang' && mode !== 'kill-self')) {
  process.stderr.write('usage: crash-child.ts <driver module> <queue> <hang|kill-self> <leaseMs>\n');
  process.exit(2);
}
const leaseMs = Number(leaseText ?? 1_000);

const driverModule = (await import(pathToFileURL(modulePath).href)) as { createDriver?: () => QueueDriver | Promise<QueueDriver> };
if (typeof driverModule.createDriver !== 'function') {
  process.stderr.write(`${modulePath} does not export createDriver()\n`);
  process.exit(2);
}
const driver = await driverModule.createDriver();

const crashing = defineJob(CRASH_JOB_NAME, async (_payload: unknown, ctx) => {
  process.stdout.write(`started ${ctx.id} ${ctx.attempt}\n`);
  if (mode === 'kill-self') process.kill(process.pid, 'SIGKILL');
  // Hang until the parent kills the process; the timer keeps the event loop alive meanwhile.
  await new Promise(() => setInterval(() => undefined, 60_000));
});

const worker = new Worker({ driver, jobs: [crashing], queues: [queue], concurrency: 1, leaseMs, waitMs: 200 });
worker.on('dead-lettered', (event) => process.stdout.write(`dead-lettered ${event.id} ${event.reason}\n`));
worker.on('error', ({ error, during }) => process.stderr.write(`worker error during ${during}: ${error.message}\n`));
process.stdout.write('ready\n');
await worker.run();
await driver.close();
