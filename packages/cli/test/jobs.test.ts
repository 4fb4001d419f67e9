import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendFixture, configSource } from './support/backends.js';
import { runCli, runJson, startCli, tempDir, until, writeConfig } from './support/cli.js';
import { assertHealthSchema } from './support/health-schema.js';

interface JobJson {
  id: string;
  queue: string;
  name: string | null;
  state: string;
  attempts: number;
  result: unknown;
  lastError: { message: string } | null;
  deadLetterReason: string | null;
  lease: { holder: string | null; expiresAt: number } | null;
  payload: unknown;
}

/** What each backend's driver declares of job lookup, cancel and pause (the contract suite tests the members themselves). */
const CAN: Record<BackendFixture['name'], { lookup: boolean; cancel: boolean; pause: boolean }> = {
  sqlite: { lookup: true, cancel: true, pause: true },
  postgres: { lookup: true, cancel: true, pause: true },
  redis: { lookup: true, cancel: true, pause: true },
  beanstalk: { lookup: false, cancel: false, pause: true },
};

describe.each(['sqlite', 'redis', 'postgres', 'beanstalk'] as const)('queue job, jobs, pause and resume on %s', (backendName) => {
  let backend: BackendFixture;
  let dir: string;
  let removeDir: () => void;
  const opts = () => ({ cwd: dir });
  const can = CAN[backendName];

  beforeEach(() => {
    backend = BACKENDS[backendName]();
    ({ dir, remove: removeDir } = tempDir());
    writeConfig(dir, configSource(backend.connection));
  });

  afterEach(async () => {
    await backend.cleanup();
    removeDir();
  });

  const push = async (name: string, payload: unknown) => {
    const { result, json } = await runJson<{ id: string }>(['push', name, '--payload', JSON.stringify(payload), '--json'], opts());
    expect(result.code, result.stderr).toBe(0);
    return json.id;
  };

  it.skipIf(!can.lookup)(
    'job show prints a waiting job, then its result once completed, and a dead-lettered one with its error',
    async () => {
      const done = await push('record', { password: 'hunter2', n: 5 });
      const failed = await push('fail', {});
      const { result: waitingRun, json: waiting } = await runJson<JobJson>(['job', 'show', done, '--json'], opts());
      expect(waitingRun.code, waitingRun.stderr).toBe(0);
      expect(waiting).toMatchObject({ id: done, queue: 'default', name: 'record', state: 'waiting', attempts: 0 });
      // Sensitive keys are masked unless --reveal.
      expect(waiting.payload).toEqual({ password: '[REDACTED]', n: 5 });

      const work = await runCli(['work', '--once'], opts());
      expect(work.code, work.stderr).toBe(0);

      const { json: completed } = await runJson<JobJson>(['job', 'show', done, '--json', '--reveal'], opts());
      expect(completed).toMatchObject({ state: 'completed', attempts: 1, result: { password: 'hunter2', n: 5 } });
      const people = await runCli(['job', 'show', done], opts());
      expect(people.code, people.stderr).toBe(0);
      expect(people.stdout).toMatch(/state\s+completed/);
      expect(people.stdout).toMatch(/result:\n\{\n\s+"password": "\[REDACTED\]",\n\s+"n": 5\n\}/);

      const dead = await runCli(['job', 'show', failed], opts());
      expect(dead.code, dead.stderr).toBe(0);
      expect(dead.stdout).toMatch(/state\s+failed \(failed\)/);
      expect(dead.stdout).toContain('Error: always fails');
      const { json: deadJson } = await runJson<JobJson>(['job', 'show', failed, '--json'], opts());
      expect(deadJson).toMatchObject({ state: 'failed', deadLetterReason: 'failed', lastError: { message: 'always fails' } });

      const { json: list } = await runJson<{ jobs: JobJson[] }>(
        ['jobs', 'list', '--queue', 'default', '--state', 'completed', '--json'],
        opts(),
      );
      expect(list.jobs.map((job) => job.id)).toEqual([done]);
      const table = await runCli(['jobs', 'list', '--queue', 'default', '--state', 'failed'], opts());
      expect(table.stdout).toMatch(new RegExp(`${failed}\\s+fail\\s+1\\s+.*Error: always fails`));

      const unknown = await runCli(['job', 'show', 'no-such-id'], opts());
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('no job with id "no-such-id"');
      const badState = await runCli(['jobs', 'list', '--queue', 'default', '--state', 'done'], opts());
      expect(badState.code).toBe(1);
      expect(badState.stderr).toContain('--state must be one of waiting, delayed, active, completed, failed, cancelled');
    },
  );

  it.skipIf(!can.lookup)('job show of a running job names the worker holding its lease', async () => {
    const id = await push('slow', { ms: 4_000 });
    const worker = startCli(['work'], { cwd: dir, timeoutMs: 30_000 });
    try {
      await until(() => existsSync(join(dir, `started-${id}`)), 15_000, 'the slow job to start');
      const { json } = await runJson<JobJson>(['job', 'show', id, '--json'], opts());
      expect(json.state).toBe('active');
      expect(json.lease?.holder).toMatch(new RegExp(`:${worker.child.pid}$`));
      expect(json.lease?.expiresAt).toBeGreaterThan(Date.now() - 1_000);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect((await worker.done).code).toBe(0);
  });

  it.skipIf(!can.cancel)('job cancel ends a waiting job: work runs nothing, and an unknown id exits 1', async () => {
    const id = await push('record', { n: 1 });
    const cancel = await runCli(['job', 'cancel', id], opts());
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`cancelled ${id}`);
    const work = await runCli(['work', '--once'], opts());
    expect(work.stdout).toMatch(/0 job\(s\)/);
    expect(existsSync(join(dir, 'ran.log'))).toBe(false);
    const { json } = await runJson<JobJson>(['job', 'show', id, '--json'], opts());
    expect(json.state).toBe('cancelled');
    const again = await runJson<{ outcome: string }>(['job', 'cancel', id, '--json'], opts());
    expect(again.json.outcome).toBe('finished');
    const unknown = await runCli(['job', 'cancel', 'no-such-id'], opts());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no waiting, delayed or active job with id "no-such-id"');
  });

  it.skipIf(!can.pause)('pause holds a queue for every worker, health shows it, resume lets work take its jobs', async () => {
    const paused = await runCli(['pause', 'default'], opts());
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain('paused queue default');
    await push('record', { n: 1 });
    const { json: health } = await runJson<{ connections: { queues: { name: string; ready: number; paused: boolean | null }[] }[] }>(
      ['health', '--json'],
      opts(),
    );
    assertHealthSchema(health);
    expect(health.connections[0]?.queues[0]).toMatchObject({ name: 'default', ready: 1, paused: true });
    const people = await runCli(['health'], opts());
    expect(people.stdout).toMatch(/default\s+1\s+.*healthy, paused/);
    const idle = await runCli(['work', '--once'], opts());
    expect(idle.stdout).toMatch(/0 job\(s\)/);
    expect(existsSync(join(dir, 'ran.log'))).toBe(false);

    const resumed = await runCli(['resume', 'default', '--json'], opts());
    expect(JSON.parse(resumed.stdout)).toMatchObject({ queue: 'default', paused: false, ready: 1 });
    const work = await runCli(['work', '--once'], opts());
    expect(work.stdout).toContain('1 completed');
  });

  it.skipIf(can.lookup)('job show says plainly that this driver cannot look jobs up', async () => {
    const result = await runCli(['job', 'show', 'some-id'], opts());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${backendName}: looking up a job by id is not supported by this driver (capabilities.lookup is false)`,
    );
  });
});
