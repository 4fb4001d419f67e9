import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineJob, type QueueDriver, Worker } from '@queuekit/core';
import { expect } from 'vitest';

/** The beanstalkd the contract suite uses (scripts/services.sh starts it). */
export const BEANSTALK_URL = process.env.BEANSTALK_URL ?? 'beanstalk://127.0.0.1:11300';

/** A tube prefix no other test file uses. */
export function randomTubePrefix(): string {
  return `qkt-${randomBytes(4).toString('hex')}.`;
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** A beanstalkd of a test's own, on a free port, optionally with a binlog directory and a job size limit. */
export class OwnBeanstalkd {
  readonly port: number;
  readonly url: string;
  readonly binlogDir: string | undefined;
  readonly #args: string[];
  #process: ChildProcess | undefined;

  private constructor(port: number, args: string[], binlogDir: string | undefined) {
    this.port = port;
    this.url = `beanstalk://127.0.0.1:${port}`;
    this.#args = args;
    this.binlogDir = binlogDir;
  }

  /** Starts one; `binlog` keeps jobs across restarts (`-b`), `maxJobBytes` is `-z`. */
  static async start(options: { binlog?: boolean; maxJobBytes?: number } = {}): Promise<OwnBeanstalkd> {
    const port = await freePort();
    const binlogDir = options.binlog === true ? mkdtempSync(join(tmpdir(), 'qk-beanstalkd-')) : undefined;
    const args = ['-l', '127.0.0.1', '-p', String(port)];
    if (binlogDir !== undefined) args.push('-b', binlogDir);
    if (options.maxJobBytes !== undefined) args.push('-z', String(options.maxJobBytes));
    const server = new OwnBeanstalkd(port, args, binlogDir);
    await server.restart();
    return server;
  }

  /** Starts the process (again) and waits until it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(process.env.BEANSTALKD_BIN ?? 'beanstalkd', this.#args, { stdio: 'ignore' });
    this.#process = child;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`beanstalkd exited with ${child.exitCode} (${this.#args.join(' ')})`);
      if (await accepts(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`beanstalkd did not listen on ${this.port} within 10 s`);
  }

  /** Stops the process with `signal` and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Sends `signal` to the running process (SIGUSR1 puts beanstalkd in drain mode). */
  async signal(signal: NodeJS.Signals): Promise<void> {
    this.#process?.kill(signal);
  }

  /** Stops it and removes its binlog. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.binlogDir !== undefined) rmSync(this.binlogDir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A worker on queue `work` whose jobs (named `name`) take `handlerMs`; it records what ran, what was dead-lettered and its errors. */
export function recordingWorker(driver: QueueDriver, name: string, handlerMs: number, errorBackoffMs: number) {
  // Jobs whose handler ran: an ack lost with its connection or server may have deleted the job or
  // not (then it runs again), so a run is what counts, not the worker's 'completed' event.
  const ran = new Set<string>();
  const deadLettered: string[] = [];
  const errors: string[] = [];
  const job = defineJob(name, async (_payload: unknown, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, handlerMs));
    ran.add(ctx.id);
  });
  const worker = new Worker({ driver, jobs: [job], queues: ['work'], concurrency: 8, errorBackoffMs });
  worker.on('dead-lettered', (event) => deadLettered.push(`${event.id} ${event.reason}`));
  worker.on('error', (event) => errors.push(event.error.message));
  const running = worker.run();
  return {
    ran,
    deadLettered,
    errors,
    /** Resolves once `count` jobs ran, or after `timeoutMs` (the caller's assertions tell which). */
    async ranAtLeast(count: number, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (ran.size < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    async stop(): Promise<void> {
      await worker.stop({ graceMs: 1_000 });
      await running;
    },
  };
}

/** Waits (bounded) for the last acknowledgements still on their way, then expects `queue` empty. */
export async function expectNothingLeft(driver: QueueDriver, queue: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await driver.stats(queue)).reserved > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await driver.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 0 });
}
