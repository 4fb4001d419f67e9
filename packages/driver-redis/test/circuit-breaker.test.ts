import { type ChildProcess, spawn } from 'node:child_process';
import { defineJob } from '@queuekit/core';
import { tsxImport, waitUntil } from '@queuekit/driver-contract';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisDriver, type RedisDriver } from '../src/index.js';
import { deletePrefix, REDIS_URL, randomPrefix, randomQueue } from './helpers.js';

interface WorkerLine {
  readonly event: string;
  readonly at: number;
  readonly id?: string;
  readonly attempt?: number;
  readonly reason?: string;
}

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: WorkerLine[];
  stderr: string;
}

const children: WorkerProcess[] = [];
const drivers: RedisDriver[] = [];
const prefixes: string[] = [];

afterEach(async () => {
  for (const { child } of children.splice(0)) {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  await Promise.allSettled(drivers.splice(0).map((driver) => driver.close()));
  await Promise.all(prefixes.splice(0).map(deletePrefix));
});

function startWorker(prefix: string, queue: string, cooldownMs: number): WorkerProcess {
  const script = new URL('./fixtures/breaker-worker.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--conditions=source', '--import', tsxImport(), script, queue], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, QK_REDIS_TEST_PREFIX: prefix, QK_BREAKER_COOLDOWN_MS: String(cooldownMs), REDIS_URL },
  });
  const worker: WorkerProcess = { child, lines: [], stderr: '' };
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) if (part.trim() !== '') worker.lines.push(JSON.parse(part) as WorkerLine);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    worker.stderr += chunk.toString('utf8');
  });
  children.push(worker);
  return worker;
}

/** Waits for `check`; on timeout the error carries what the workers wrote to stderr. */
async function expectEventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  try {
    await waitUntil(check, { timeoutMs, description: what });
  } catch (error) {
    const stderr = children.map((worker, index) => `worker ${index} stderr: ${worker.stderr}`).join('\n');
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
}

const events = (worker: WorkerProcess, event: string): WorkerLine[] => worker.lines.filter((line) => line.event === event);

// Only the name and payload matter to the producer: the workers hold the definition with the circuit.
const callPartner = defineJob('call-partner', async (_payload: { fail: boolean }) => 'ok');

describe('throttleExceptions across worker processes (Redis)', () => {
  it('failures in two processes open one circuit; both postpone their jobs while it is open, and run them after the cooldown', {
    timeout: 120_000,
  }, async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const producer = createRedisDriver({ keyPrefix: prefix, connection: REDIS_URL });
    drivers.push(producer);
    const [queueA, queueB] = [randomQueue(), randomQueue()];
    const cooldownMs = 8_000;
    const a = startWorker(prefix, queueA, cooldownMs);
    const b = startWorker(prefix, queueB, cooldownMs);
    await expectEventually(() => events(a, 'ready').length === 1 && events(b, 'ready').length === 1, 'workers did not start', 60_000);

    // Two failures in A's process and one in B's: neither saw three, together they open the circuit.
    await callPartner.create({ fail: true }).onQueue(queueA).dispatch(producer);
    await callPartner.create({ fail: true }).onQueue(queueA).dispatch(producer);
    await expectEventually(() => events(a, 'failed').length === 2, 'A did not fail twice', 10_000);
    const store = producer.createCoordinationStore();
    expect(await store.remainingMs('circuit:call-partner:open')).toBe(0);
    await callPartner.create({ fail: true }).onQueue(queueB).dispatch(producer);
    await expectEventually(() => events(b, 'failed').length === 1, 'B did not fail', 10_000);
    await expectEventually(async () => (await store.remainingMs('circuit:call-partner:open')) > 0, 'the circuit did not open');

    // While open, each process hands its healthy job back with a delay: not run, not failed.
    const okA = callPartner.create({ fail: false }).onQueue(queueA);
    const okB = callPartner.create({ fail: false }).onQueue(queueB);
    await okA.dispatch(producer);
    await okB.dispatch(producer);
    await expectEventually(
      () => events(a, 'postponed').some((l) => l.id === okA.id) && events(b, 'postponed').some((l) => l.id === okB.id),
      'the jobs were not postponed',
      10_000,
    );
    for (const worker of [a, b]) {
      const postponed = events(worker, 'postponed')[0]!;
      expect(postponed.reason).toContain('circuit:call-partner is open');
      expect(events(worker, 'completed')).toHaveLength(0);
    }

    // After the cooldown the circuit is closed and both run, as their first attempt.
    await expectEventually(
      () => events(a, 'completed').length === 1 && events(b, 'completed').length === 1,
      'the jobs did not complete after the cooldown',
      30_000,
    );
    expect(events(a, 'completed')[0]).toMatchObject({ id: okA.id, attempt: 1 });
    expect(events(b, 'completed')[0]).toMatchObject({ id: okB.id, attempt: 1 });
    expect(await store.remainingMs('circuit:call-partner:open')).toBe(0);
    expect(events(a, 'failed')).toHaveLength(2);
    expect(events(b, 'failed')).toHaveLength(1);
    const dead = await producer.deadLetters.list();
    expect(dead.map((entry) => entry.reason)).toEqual(['failed', 'failed', 'failed']);
  });
});
