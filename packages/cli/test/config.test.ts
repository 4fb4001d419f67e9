import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSource } from './support/backends.js';
import { runCli, runJson, tempDir, writeConfig } from './support/cli.js';

const SQLITE = `{ driver: 'sqlite', filename: './queue.sqlite' }`;

let dir: string;
let removeDir: () => void;
beforeEach(() => {
  ({ dir, remove: removeDir } = tempDir());
});
afterEach(() => removeDir());

const noStack = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

describe('config errors', () => {
  it('an unknown driver names the file, the key and what was expected', async () => {
    writeConfig(dir, `export default { connections: { main: { driver: 'mysql' } } };`);
    const result = await runCli(['health'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: queue.config.mjs: connections.main.driver: expected one of sqlite, postgres, redis, beanstalk, servicebus, memory, sync, got "mysql"\n',
    );
    expect(result.stdout).toBe('');
  });

  it('a file that does not parse is reported with the file name, line and column, and no stack trace', async () => {
    writeConfig(dir, `// queue config\nexport default { connections: { main: { driver: 'sqlite' } ;`);
    const result = await runCli(['stats'], { cwd: dir });
    expect(result.code).toBe(1);
    const column = "export default { connections: { main: { driver: 'sqlite' } ;".indexOf(';') + 1;
    expect(result.stderr).toBe(`error: queue.config.mjs:2:${column}: cannot load the config file: Unexpected token ';'\n`);
    noStack(result.stderr);
  });

  it('a config function that rejects is reported with the file name and its error', async () => {
    writeConfig(dir, `export default async () => { throw new Error('secrets store unreachable'); };`);
    const result = await runCli(['health'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('error: queue.config.mjs: the default export (a config function) failed: secrets store unreachable\n');
  });

  it.each([
    ['concurrency: 0', 'worker.concurrency: expected an integer >= 1, got 0'],
    ['concurrency: 1.5', 'worker.concurrency: expected an integer >= 1, got 1.5'],
    ['leaseMs: 0', 'worker.leaseMs: expected a number > 0, got 0'],
    ['prefetch: 2.5', 'worker.prefetch: expected an integer >= 0, got 2.5'],
    ['groupConcurrency: 0', 'worker.groupConcurrency: expected an integer >= 1, got 0'],
  ])('worker { %s } fails at load in health and work, naming the file and the key', async (worker, message) => {
    writeConfig(dir, configSource(SQLITE, `worker: { ${worker} },`));
    for (const command of ['health', 'work']) {
      const result = await runCli([command], { cwd: dir });
      expect(result.code, command).toBe(1);
      expect(result.stderr, command).toBe(`error: queue.config.mjs: ${message}\n`);
    }
  });

  it.each([
    [`export default { connection: {} };`, 'queue.config.mjs: connection: expected one of the keys default, connections, jobs'],
    [`export default { connections: {} };`, 'queue.config.mjs: connections: expected at least one connection, got "an empty object"'],
    [
      `export default { connections: { a: { driver: 'memory' }, b: { driver: 'memory' } } };`,
      'queue.config.mjs: default: expected the name of the default connection (one of a, b), got nothing',
    ],
    [
      `export default { connections: { main: { driver: 'redis', url: 'http://x' } } };`,
      'queue.config.mjs: connections.main.url: expected a redis:// or rediss:// URL, got "http://x"',
    ],
    [
      `export default { connections: { main: { driver: 'servicebus' } } };`,
      'queue.config.mjs: connections.main.connectionString: expected a Service Bus connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…, or set QUEUE_MAIN_URL), got nothing',
    ],
    [
      `export default { connections: { main: { driver: 'servicebus', connectionString: 'Endpoint=https://x;SharedAccessKey=SECRET' } } };`,
      'queue.config.mjs: connections.main.connectionString: expected a Service Bus connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…, or set QUEUE_MAIN_URL), got a string that does not start with Endpoint=sb://',
    ],
    [
      `export default { connections: { main: { driver: 'postgres' } } };`,
      'queue.config.mjs: connections.main.url: expected a postgres:// URL (or set QUEUE_MAIN_URL), got nothing',
    ],
    [
      `export default { connections: { main: { driver: 'memory' } }, queues: ['bad queue'] };`,
      'queue.config.mjs: queues[0]: expected a queue name',
    ],
    [
      `export default { connections: { main: { driver: 'memory' } }, worker: { concurrency: 'many' } };`,
      'queue.config.mjs: worker.concurrency: expected an integer >= 1, got "many"',
    ],
    [
      `export default { connections: { main: { driver: 'memory' } }, jobs: [42] };`,
      'queue.config.mjs: jobs[0]: expected a job definition from defineJob() or a module path, got 42',
    ],
    [
      `export default { connections: { main: { driver: 'memory' } }, rateLimits: { default: { limit: 0, intervalMs: 1000 } } };`,
      'queue.config.mjs: rateLimits.default.limit: expected a number > 0, got 0',
    ],
    [
      `export default { connections: { main: { driver: 'memory' } }, sharedRateLimits: { api: { limit: 5, intervalMs: 1000, queues: [] } } };`,
      'queue.config.mjs: sharedRateLimits.api.queues: expected a non-empty array of queue names, got an array',
    ],
    [
      `export default { connections: { main: { driver: 'memory' } }, schedules: [{ name: 'nightly', cron: '0 3 * * *', job: () => null, connection: 'other' }] };`,
      'queue.config.mjs: schedules[0].connection: expected one of main, got "other"',
    ],
    [
      `export default { connections: { main: { driver: 'memory' } }, schedules: [{ name: 'a', cron: '0 3 * * *', job: () => null }, { name: 'a', cron: '0 4 * * *', job: () => null }] };`,
      'queue.config.mjs: schedules[1].name: expected a name no other schedule uses, got "a"',
    ],
    [`export const config = {};`, 'queue.config.mjs: expected a default export'],
  ])('%s', async (source, message) => {
    writeConfig(dir, source);
    const result = await runCli(['stats'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: ${message}`);
    noStack(result.stderr);
  });

  it('a malformed Service Bus connection string is reported without its key', async () => {
    writeConfig(dir, `export default { connections: { main: { driver: 'servicebus', connectionString: 'SharedAccessKey=TOP-SECRET' } } };`);
    const result = await runCli(['stats'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/connections\.main\.connectionString: expected a Service Bus connection string/);
    expect(result.stderr).not.toContain('TOP-SECRET');
  });

  it('no config file anywhere up the tree is an error that says where it looked', async () => {
    const result = await runCli(['stats', '--config', 'missing.mjs'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: --config: no such file ${join(dir, 'missing.mjs')}\n`);
  });
});

describe('finding the config', () => {
  it('walks up from the working directory', async () => {
    writeConfig(dir, configSource(SQLITE));
    const nested = join(dir, 'a', 'b');
    mkdirSync(nested, { recursive: true });
    const { result, json } = await runJson<{ connection: string; driver: string }>(['stats', '--json'], { cwd: nested });
    expect(result.code, result.stderr).toBe(0);
    expect(json).toMatchObject({ connection: 'main', driver: 'sqlite' });
  });

  it('takes --config, and resolves a SQLite filename against the config file, not the working directory', async () => {
    mkdirSync(join(dir, 'conf'));
    writeConfig(join(dir, 'conf'), configSource(SQLITE), 'custom.config.mjs');
    const push = await runCli(['--config', 'conf/custom.config.mjs', 'push', 'record', '--payload', '1'], { cwd: dir });
    expect(push.code, push.stderr).toBe(0);
    const { json } = await runJson<{ queues: { ready: number }[] }>(['--config', join(dir, 'conf/custom.config.mjs'), 'stats', '--json'], {
      cwd: join(dir, 'conf'),
    });
    expect(json.queues[0]?.ready).toBe(1);
  });

  it('loads job definitions from a module path', async () => {
    writeFileSync(
      join(dir, 'jobs.mjs'),
      `import { defineJob } from '@queuekit/core';\nexport const a = defineJob('from-module', async () => 'ok');\nexport default [defineJob('also-from-module', async () => 'ok')];\n`,
    );
    writeConfig(dir, `export default { connections: { main: ${SQLITE} }, jobs: './jobs.mjs' };`);
    const result = await runCli(['push', 'nope'], { cwd: dir });
    expect(result.stderr).toBe('error: unknown job "nope": expected one of also-from-module, from-module\n');
  });
});

describe('environment overrides', () => {
  const twoConnections = `export default { default: 'main', connections: { main: { driver: 'sqlite', filename: './main.sqlite' }, other: { driver: 'sqlite', filename: './other.sqlite' } } };`;

  it('QUEUE_CONNECTION picks the default connection', async () => {
    writeConfig(dir, twoConnections);
    const { json } = await runJson<{ connection: string }>(['stats', '--json'], { cwd: dir, env: { QUEUE_CONNECTION: 'other' } });
    expect(json.connection).toBe('other');
    const wrong = await runCli(['stats'], { cwd: dir, env: { QUEUE_CONNECTION: 'nope' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe('error: QUEUE_CONNECTION: expected one of main, other, got "nope"\n');
  });

  it('QUEUE_<NAME>_URL replaces a connection URL or path', async () => {
    writeConfig(dir, configSource(`{ driver: 'sqlite', filename: './main.sqlite' }`));
    const push = await runCli(['push', 'record', '--payload', '{}'], {
      cwd: dir,
      env: { QUEUE_MAIN_URL: `sqlite://${join(dir, 'env.sqlite')}` },
    });
    expect(push.code, push.stderr).toBe(0);
    const viaEnv = await runJson<{ queues: { ready: number }[] }>(['stats', '--json'], {
      cwd: dir,
      env: { QUEUE_MAIN_URL: join(dir, 'env.sqlite') },
    });
    expect(viaEnv.json.queues[0]?.ready).toBe(1);
    const viaFile = await runJson<{ queues: { ready: number }[] }>(['stats', '--json'], { cwd: dir });
    expect(viaFile.json.queues[0]?.ready).toBe(0);
  });

  it('QUEUE_<NAME>_URL on a driver without a URL is an error, not silently ignored', async () => {
    writeConfig(dir, `export default { connections: { main: { driver: 'memory' } } };`);
    const result = await runCli(['stats'], { cwd: dir, env: { QUEUE_MAIN_URL: 'redis://127.0.0.1:6379' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('error: QUEUE_MAIN_URL: connection main uses the memory driver, which takes no URL\n');
  });
});

describe('push', () => {
  beforeEach(() => {
    writeConfig(dir, configSource(SQLITE));
  });

  it('refuses a job name the config does not define, listing the known ones', async () => {
    const result = await runCli(['push', 'send-email', '--payload', '{}'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('error: unknown job "send-email": expected one of fail, record, slow\n');
  });

  it('refuses a malformed payload, naming the flag', async () => {
    const result = await runCli(['push', 'record', '--payload', '{not json'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: --payload: expected JSON, got "\{not json" \(/);
    noStack(result.stderr);
  });

  it('refuses a 10 kB queue name, or job name, quoting only a readable part of it', async () => {
    const queue = await runCli(['push', 'record', '--queue', 'q'.repeat(10_000)], { cwd: dir });
    expect(queue.code).toBe(1);
    expect(queue.stderr).toMatch(
      /^error: queue: expected 1-100 characters of letters, digits and \. _ : -, got "q{80}"… \(10000 characters\)\n$/,
    );
    const name = await runCli(['push', 'n'.repeat(10_000)], { cwd: dir });
    expect(name.code).toBe(1);
    expect(name.stderr).toMatch(/^error: unknown job "n{80}"… \(10000 characters\): expected one of fail, record, slow\n$/);
  });

  it('applies --delay, --queue, --priority and --attempts', async () => {
    const pushed = await runJson<{ id: string; queue: string }>(
      ['push', 'record', '--payload', '{"a":1}', '--delay', '60000', '--queue', 'later', '--priority', 'HIGH', '--attempts', '3', '--json'],
      { cwd: dir },
    );
    expect(pushed.result.code, pushed.result.stderr).toBe(0);
    expect(pushed.json.queue).toBe('later');
    const { json } = await runJson<{ queues: { ready: number; delayed: number }[] }>(['stats', '--json', '--queue', 'later'], { cwd: dir });
    expect(json.queues[0]).toMatchObject({ ready: 0, delayed: 1 });
    const bad = await runCli(['push', 'record', '--priority', 'urgent'], { cwd: dir });
    expect(bad.stderr).toContain('error: --priority: expected HIGH, MEDIUM, LOW or an integer 0..1000000');
  });

  it('on the sync driver runs the job inline, and work says there is nothing to run', async () => {
    writeConfig(dir, configSource(`{ driver: 'sync' }`));
    const push = await runCli(['push', 'record', '--payload', '"inline"'], { cwd: dir });
    expect(push.code, push.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'ran.log'), 'utf8'))).toMatchObject({ payload: 'inline' });
    const work = await runCli(['work'], { cwd: dir });
    expect(work.code).toBe(1);
    expect(work.stderr).toContain('uses the sync driver, which runs each job when it is pushed; there is nothing to work');
  });

  it('on the sync driver reports a job that failed inline, and where its dead letter went, with exit 1', async () => {
    writeConfig(dir, configSource(`{ driver: 'sync' }`));
    const result = await runCli(['push', 'fail'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toMatch(/pushed/);
    expect(result.stderr).toMatch(/^error: fail \S+ failed inline on main \(sync\): failed after 1 attempt\(s\): Error: always fails$/m);
    expect(result.stderr).toContain("the sync driver keeps dead letters in this process's memory only: it is gone once this command exits");
    noStack(result.stderr);
    const json = await runJson<{ failed: boolean; deadLettersKept: boolean; deadLetters: { reason: string }[] }>(
      ['push', 'fail', '--json'],
      {
        cwd: dir,
      },
    );
    expect(json.result.code).toBe(1);
    expect(json.json).toMatchObject({ failed: true, deadLettersKept: false, deadLetters: [{ reason: 'failed' }] });
    const ok = await runCli(['push', 'record', '--payload', '1'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ran record \S+ inline on main \(sync\): completed$/m);
  });
});

describe('masking', () => {
  it('dlq list and show mask sensitive payload keys and key=value secrets in errors; --reveal shows them; work and errors mask too', async () => {
    writeConfig(
      dir,
      `import { defineJob } from '@queuekit/core';
export const login = defineJob('login', async (p) => {
  throw new Error('login refused for user=' + p.user + ' password=' + p.password);
});
export default { connections: { main: ${SQLITE} }, jobs: [login] };`,
    );
    const payload = { user: 'ada', password: 'hunter2', card: { apiKey: 'k-777' } };
    const pushed = await runJson<{ id: string }>(['push', 'login', '--payload', JSON.stringify(payload), '--attempts', '1', '--json'], {
      cwd: dir,
    });
    expect(pushed.result.code, pushed.result.stderr).toBe(0);
    const work = await runCli(['work', '--once'], { cwd: dir });
    expect(work.code, work.stderr).toBe(0);
    expect(work.stdout).toContain('login refused for user=ada password=[REDACTED]');
    const secrets = /hunter2|k-777/;
    expect(work.stdout).not.toMatch(secrets);

    const list = await runJson<{ entries: { payload: unknown; error: { message: string; stack?: string } }[] }>(['dlq', 'list', '--json'], {
      cwd: dir,
    });
    expect(list.json.entries[0]?.payload).toEqual({ user: 'ada', password: '[REDACTED]', card: { apiKey: '[REDACTED]' } });
    expect(list.json.entries[0]?.error.message).toBe('login refused for user=ada password=[REDACTED]');
    expect(list.result.stdout).not.toMatch(secrets);
    const table = await runCli(['dlq', 'list'], { cwd: dir });
    expect(table.stdout).toContain('password=[REDACTED]');
    expect(table.stdout).not.toMatch(secrets);
    for (const args of [
      ['dlq', 'show', pushed.json.id],
      ['dlq', 'show', pushed.json.id, '--json'],
    ]) {
      const show = await runCli(args, { cwd: dir });
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain('[REDACTED]');
      expect(show.stdout, args.join(' ')).not.toMatch(secrets);
    }
    const revealed = await runCli(['dlq', 'show', pushed.json.id, '--reveal'], { cwd: dir });
    expect(revealed.stdout).toContain('"password": "hunter2"');
    expect(revealed.stdout).toContain('password=hunter2');
    const revealedList = await runJson<{ entries: { payload: unknown }[] }>(['dlq', 'list', '--json', '--reveal'], { cwd: dir });
    expect(revealedList.json.entries[0]?.payload).toEqual(payload);

    writeConfig(dir, `export default async () => { throw new Error('vault login failed: token=s.abc123'); };`);
    const failed = await runCli(['health'], { cwd: dir });
    expect(failed.stderr).toBe(
      'error: queue.config.mjs: the default export (a config function) failed: vault login failed: token=[REDACTED]\n',
    );
  });
});

describe('work limits', () => {
  it('--max-jobs stops after taking that many jobs', async () => {
    writeConfig(dir, configSource(SQLITE));
    for (const n of [1, 2, 3]) {
      const push = await runCli(['push', 'record', '--payload', String(n)], { cwd: dir });
      expect(push.code, push.stderr).toBe(0);
    }
    const work = await runCli(['work', '--max-jobs', '2', '--json'], { cwd: dir });
    expect(work.code, work.stderr).toBe(0);
    const events = work.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; outcome?: string; reason?: string; jobs?: number });
    expect(events.map((e) => e.event)).toEqual(['started', 'job', 'job', 'stopped']);
    expect(events.at(-1)).toMatchObject({ reason: 'max-jobs', jobs: 2, completed: 2 });
    const { json } = await runJson<{ queues: { ready: number }[] }>(['stats', '--json'], { cwd: dir });
    expect(json.queues[0]?.ready).toBe(1);
  });
});

describe('usage', () => {
  it.each([
    ['health'],
    ['work'],
    ['dlq'],
    ['dlq', 'list'],
    ['dlq', 'show'],
    ['dlq', 'retry'],
    ['dlq', 'purge'],
    ['migrate'],
    ['stats'],
    ['push'],
  ])('queue %s --help', async (...command) => {
    const result = await runCli([...command, '--help'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: queue ${command.join(' ')}`));
  });

  it('a bad flag value is an error on stderr with exit 1', async () => {
    writeConfig(dir, configSource(SQLITE));
    const result = await runCli(['work', '--concurrency', 'lots'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error: option '--concurrency <n>' argument 'lots' is invalid. expected an integer >= 1.");
    expect(result.stdout).toBe('');
  });

  it('--connection must name a configured connection', async () => {
    writeConfig(dir, configSource(SQLITE));
    const result = await runCli(['stats', '--connection', 'nope'], { cwd: dir });
    expect(result.stderr).toBe('error: --connection: expected one of main, got "nope"\n');
  });
});
