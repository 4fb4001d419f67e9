import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendFixture, configSource } from './support/backends.js';
import { runCli, runJson, startCli, tempDir, until, writeConfig } from './support/cli.js';
import { assertHealthSchema } from './support/health-schema.js';

interface HealthJson {
  status: string;
  exitCode: number;
  connections: {
    name: string;
    driver: string;
    reachable: boolean;
    workers: { count: number | null };
    queues: { name: string; ready: number; dead: number; status: string; problems: string[] }[];
  }[];
}

interface DlqJson {
  total: number;
  entries: { id: string; queue: string; name: string; reason: string; error: { message: string } }[];
}

interface StatsJson {
  queues: { queue: string; ready: number; delayed: number; reserved: number; dead: number }[];
}

describe.each(['sqlite', 'redis', 'postgres', 'beanstalk'] as const)('queue on %s', (backendName) => {
  let backend: BackendFixture;
  let dir: string;
  let removeDir: () => void;
  const opts = () => ({ cwd: dir });

  beforeEach(() => {
    backend = BACKENDS[backendName]();
    ({ dir, remove: removeDir } = tempDir());
    writeConfig(dir, configSource(backend.connection));
  });

  afterEach(async () => {
    await backend.cleanup();
    removeDir();
  });

  const push = async (name: string, payload: unknown, extra: string[] = []) => {
    const { result, json } = await runJson<{ id: string; queue: string }>(
      ['push', name, '--payload', JSON.stringify(payload), '--json', ...extra],
      opts(),
    );
    expect(result.code, result.stderr).toBe(0);
    return json.id;
  };

  it('health --json reports a healthy connection with exit 0, matching its schema', async () => {
    const { result, json } = await runJson<HealthJson>(['health', '--json'], opts());
    expect(result.code, result.stderr).toBe(0);
    assertHealthSchema(json);
    expect(json.status).toBe('healthy');
    const [main] = json.connections;
    expect(main).toMatchObject({ name: 'main', driver: backendName, reachable: true, workers: { count: 0 } });
    expect(main?.queues).toEqual([expect.objectContaining({ name: 'default', ready: 0, dead: 0, status: 'healthy' })]);
  });

  it('health exits 1 (degraded) when a queue has more ready jobs than --max-ready', async () => {
    await push('record', { n: 1 });
    const { result, json } = await runJson<HealthJson>(['health', '--json', '--max-ready', '0'], opts());
    expect(result.code, result.stderr).toBe(1);
    assertHealthSchema(json);
    expect(json.status).toBe('degraded');
    expect(json.connections[0]?.queues[0]).toMatchObject({ ready: 1, status: 'degraded', problems: ['ready 1 > max 0'] });
    const people = await runCli(['health', '--max-ready', '0'], opts());
    expect(people.code).toBe(1);
    expect(people.stdout).toMatch(/default\s+1\s+0\s+0\s+0\s+\S+\s+-\s+degraded: ready 1 > max 0/);
  });

  it('push then work --once runs the job and exits with a summary', async () => {
    const id = await push('record', { hello: 'world' });
    const result = await runCli(['work', '--once'], opts());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`record  ${id}  completed  \\d`));
    expect(result.stdout).toMatch(
      /worker stopped \(empty\): 1 job\(s\) in .*: 1 completed, 0 dead-lettered, 0 released, 0 awaiting a retry; 0 retried run\(s\)/,
    );
    const ran = readFileSync(join(dir, 'ran.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(ran).toEqual([{ id, payload: { hello: 'world' } }]);
  });

  it('dlq retry moves a dead job back to its queue', async () => {
    const id = await push('fail', {});
    const work = await runCli(['work', '--once'], opts());
    expect(work.stdout).toMatch(new RegExp(`fail  ${id}  dead-lettered  .*always fails`));
    const { json: list } = await runJson<DlqJson>(['dlq', 'list', '--json'], opts());
    expect(list.total).toBe(1);
    expect(list.entries[0]).toMatchObject({ id, queue: 'default', name: 'fail', reason: 'failed', error: { message: 'always fails' } });
    const table = await runCli(['dlq', 'list'], opts());
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+QUEUE\s+NAME\s+REASON\s+ATTEMPTS\s+FAILED AT\s+ERROR$/);
    const show = await runCli(['dlq', 'show', id], opts());
    expect(show.stdout).toMatch(/reason\s+failed/);
    expect(show.stdout).toContain('Error: always fails');

    const retry = await runCli(['dlq', 'retry', id], opts());
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain(`retried ${id}`);
    const { json: stats } = await runJson<StatsJson>(['stats', '--json'], opts());
    expect(stats.queues).toEqual([expect.objectContaining({ queue: 'default', ready: 1, dead: 0 })]);
    const again = await runCli(['dlq', 'retry', id], opts());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no dead letter with id "${id}"`);
  });

  it('dlq retry --all --queue moves every dead job of that queue back', async () => {
    await push('fail', {});
    await push('fail', {});
    await push('fail', {}, ['--queue', 'other']);
    await runCli(['work', '--once', '--queue', 'default,other'], opts());
    const { json: before } = await runJson<DlqJson>(['dlq', 'list', '--json'], opts());
    expect(before.total).toBe(3);
    const retry = await runCli(['dlq', 'retry', '--all', '--queue', 'default'], opts());
    expect(retry.stdout).toContain('retried 2 dead letter(s) of queue default');
    const { json: stats } = await runJson<StatsJson>(['stats', '--json', '--queue', 'default,other'], opts());
    expect(stats.queues.map((q) => [q.queue, q.ready, q.dead])).toEqual([
      ['default', 2, 0],
      ['other', 0, 1],
    ]);
  });

  it('health reports the rate-limit bucket the workers draw from', async () => {
    writeConfig(dir, configSource(backend.connection, `rateLimits: { default: { limit: 5, intervalMs: 600000 } },`));
    await push('record', { n: 1 });
    await push('record', { n: 2 });
    const work = await runCli(['work', '--once'], opts());
    expect(work.stdout).toContain('2 completed');
    const { json } = await runJson<{ connections: { queues: { rateLimit: unknown }[] }[] }>(['health', '--json'], opts());
    assertHealthSchema(json);
    const rateLimit = json.connections[0]?.queues[0]?.rateLimit;
    // beanstalkd keeps no counters a bucket could live in: each worker process limits itself.
    if (backendName === 'beanstalk') expect(rateLimit).toMatchObject({ limit: 5, intervalMs: 600000, shared: false });
    else expect(rateLimit).toEqual({ limit: 5, intervalMs: 600000, available: 3, used: 2, shared: true });
  });

  it('work honours a shared budget across two runs: the second finds it spent', async () => {
    writeConfig(
      dir,
      configSource(
        backend.connection,
        `sharedRateLimits: { 'partner-api': { limit: 2, intervalMs: 600000, queues: ['default', 'other'] } },`,
      ),
    );
    for (let n = 1; n <= 3; n += 1) await push('record', { n });
    const first = await runCli(['work', '--max-time', '2'], opts());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('2 completed');
    // beanstalkd keeps no counters a bucket could live in: a new process starts with a full bucket.
    const second = await runCli(['work', '--max-time', '1'], opts());
    expect(second.stdout).toContain(backendName === 'beanstalk' ? '1 completed' : '0 job(s)');
  });

  it('dlq purge asks for --yes when it cannot prompt, then deletes', async () => {
    await push('fail', {});
    await runCli(['work', '--once'], opts());
    const refused = await runCli(['dlq', 'purge'], opts());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('would delete 1 dead letter(s) on every queue; pass --yes to confirm');
    const purged = await runCli(['dlq', 'purge', '--yes'], opts());
    expect(purged.stdout).toContain('purged 1 dead letter(s)');
    const { json } = await runJson<DlqJson>(['dlq', 'list', '--json'], opts());
    expect(json.total).toBe(0);
  });

  it('dlq purge --ids deletes exactly the dead letters it names, after saying how many exist', async () => {
    const gone = await push('fail', { n: 1 });
    const stays = await push('fail', { n: 2 });
    await runCli(['work', '--once'], opts());
    const refused = await runCli(['dlq', 'purge', '--ids', `${gone},no-such-id`], opts());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('would delete 1 dead letter(s) by id; pass --yes to confirm');
    const mixed = await runCli(['dlq', 'purge', '--ids', gone, '--queue', 'default', '--yes'], opts());
    expect(mixed.stderr).toContain('--ids names the entries; it cannot be combined with --queue or --older-than');
    const { json: purged } = await runJson<{ purged: number }>(['dlq', 'purge', '--ids', `${gone},no-such-id`, '--yes', '--json'], opts());
    expect(purged).toEqual({ purged: 1 });
    const { json } = await runJson<DlqJson>(['dlq', 'list', '--json'], opts());
    expect(json.entries.map((e) => e.id)).toEqual([stays]);
  });

  it('work drains on SIGTERM: the job in flight finishes and the process exits 0 with its summary', async () => {
    const id = await push('slow', { ms: 1_500 });
    await push('record', { after: true });
    const worker = startCli(['work'], { cwd: dir, timeoutMs: 30_000 });
    await worker.waitFor(/worker started/);
    await until(() => existsSync(join(dir, `started-${id}`)), 15_000, 'the slow job to start');
    worker.child.kill('SIGTERM');
    const result = await worker.done;
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(join(dir, `finished-${id}`))).toBe(true);
    expect(result.stdout).toMatch(new RegExp(`slow  ${id}  completed`));
    expect(result.stdout).toMatch(/worker stopped \(signal\): 1 job\(s\) .*1 completed/);
    // The job queued behind the slow one was not taken after the signal.
    expect(existsSync(join(dir, 'ran.log'))).toBe(false);
    const { json: stats } = await runJson<StatsJson>(['stats', '--json'], opts());
    expect(stats.queues[0]).toMatchObject({ ready: 1, reserved: 0 });
  });

  it('health counts a running worker, and no longer once it has stopped', async () => {
    const worker = startCli(['work'], { cwd: dir, timeoutMs: 30_000 });
    try {
      await worker.waitFor(/worker started/);
      const { json } = await runJson<HealthJson>(['health', '--json', '--min-workers', '1'], opts());
      assertHealthSchema(json);
      expect(json.connections[0]?.workers.count).toBe(1);
      expect(json.exitCode).toBe(0);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect((await worker.done).code).toBe(0);
    const { result, json } = await runJson<HealthJson>(['health', '--json', '--min-workers', '1'], opts());
    expect(json.connections[0]?.workers.count).toBe(0);
    expect(result.code).toBe(1);
  });

  it('migrate brings a database schema up to date and says so on other drivers', async () => {
    const result = await runCli(['migrate'], opts());
    expect(result.code, result.stderr).toBe(0);
    if (backendName === 'redis' || backendName === 'beanstalk')
      expect(result.stdout).toContain(`main (${backendName}): nothing to migrate`);
    else expect(result.stdout).toMatch(new RegExp(`main \\(${backendName}\\): (migrated from version 0 to \\d+|schema is current)`));
  });
});
