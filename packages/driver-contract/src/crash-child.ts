/**
 * The worker process of the crash tests, started by the suite as
 * `node --conditions=source --import tsx crash-child.ts <driver module> <queue> <options JSON>`.
 *
 * It builds a driver with the module's `createDriver()` and runs a Worker on `queue`, with the
 * Worker's defaults unless the options (see {@link CrashChildOptions}) say otherwise.
 *
 * - mode `hang`: the handler prints `started <id> <attempt>` and hangs until the process is killed
 *   (or, with `handleSignals`, until SIGTERM's grace period ends and the job is handed back).
 * - mode `kill-self`: the handler prints `started <id> <attempt>` and kills its own process.
 * - mode `chaos`: the handler prints `start <id> <attempt> <pid> <epoch ms>`, sleeps the payload's
 *   `ms`, then prints `end <id> <pid> <epoch ms>`.
 * - mode `echo`: the handler returns `{ echo: <payload>, pid: <its pid> }` (or throws the payload's
 *   `fail` message as an UnrecoverableError), for the tests that wait on a result across processes.
 *
 * Dead letters it records are printed as `dead-lettered <id> <reason>`, hand-backs as `released <id>`.
 */
import { pathToFileURL } from 'node:url';
import { defineJob, type QueueDriver, UnrecoverableError, Worker } from '@queuekit/core';
import { CRASH_JOB_NAME, type CrashChildOptions } from './crash-protocol.js';

const [modulePath, queue, optionsText] = process.argv.slice(2);
if (modulePath === undefined || queue === undefined || optionsText === undefined) {
  process.stderr.write('usage: crash-child.ts <driver module> <queue> <options JSON>\n');
  process.exit(2);
}
const options = JSON.parse(optionsText) as CrashChildOptions;

const driverModule = (await import(pathToFileURL(modulePath).href)) as { createDriver?: () => QueueDriver | Promise<QueueDriver> };
if (typeof driverModule.createDriver !== 'function') {
  process.stderr.write(`${modulePath} does not export createDriver()\n`);
  process.exit(2);
}
const driver = await driverModule.createDriver();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const crashing = defineJob(CRASH_JOB_NAME, async (payload: { ms?: number; fail?: string }, ctx) => {
  if (options.mode === 'echo') {
    if (payload.fail !== undefined) throw new UnrecoverableError(payload.fail);
    return { echo: payload, pid: process.pid };
  }
  if (options.mode === 'chaos') {
    process.stdout.write(`start ${ctx.id} ${ctx.attempt} ${process.pid} ${Date.now()}\n`);
    await sleep(payload.ms ?? 10);
    process.stdout.write(`end ${ctx.id} ${process.pid} ${Date.now()}\n`);
    return;
  }
  process.stdout.write(`started ${ctx.id} ${ctx.attempt}\n`);
  if (options.mode === 'kill-self') process.kill(process.pid, 'SIGKILL');
  // Hang until the process is killed or the signal aborts at shutdown; the timer keeps the event loop alive.
  await new Promise((_resolve, reject) => {
    const timer = setInterval(() => undefined, 60_000);
    ctx.signal.addEventListener('abort', () => {
      clearInterval(timer);
      reject(ctx.signal.reason);
    });
  });
});

const worker = new Worker({
  driver,
  jobs: [crashing],
  queues: [queue],
  ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
  ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
  ...(options.maxLostDeliveries === undefined ? {} : { maxLostDeliveries: options.maxLostDeliveries }),
  ...(options.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: options.shutdownGraceMs }),
  ...(options.groupConcurrency === undefined ? {} : { groups: { concurrency: options.groupConcurrency } }),
  handleSignals: options.handleSignals === true,
});
worker.on('dead-lettered', (event) => process.stdout.write(`dead-lettered ${event.id} ${event.reason}\n`));
worker.on('released', (event) => process.stdout.write(`released ${event.id}\n`));
worker.on('error', ({ error, during }) => process.stderr.write(`worker error during ${during}: ${error.message}\n`));
process.stdout.write('ready\n');
await worker.run();
await driver.close();
process.stdout.write('stopped\n');
