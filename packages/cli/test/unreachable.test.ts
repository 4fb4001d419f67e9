import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closedPort } from './support/backends.js';
import { runCli, runJson, tempDir, writeConfig } from './support/cli.js';
import { assertHealthSchema } from './support/health-schema.js';

interface HealthJson {
  status: string;
  exitCode: number;
  connections: { name: string; status: string; reachable: boolean; pingMs: number | null; error: string | null; queues: unknown[] }[];
}

let dir: string;
let removeDir: () => void;
beforeEach(() => {
  ({ dir, remove: removeDir } = tempDir());
});
afterEach(() => removeDir());

describe('queue health on a backend that cannot be reached', () => {
  it.each([
    ['redis', (port: number) => `{ driver: 'redis', url: 'redis://127.0.0.1:${port}', prefix: 'qkcli-unreachable' }`],
    ['postgres', (port: number) => `{ driver: 'postgres', url: 'postgres://postgres@127.0.0.1:${port}/test' }`],
    ['beanstalk', (port: number) => `{ driver: 'beanstalk', url: 'beanstalk://127.0.0.1:${port}' }`],
  ])('%s on a closed port exits 2 with a schema-valid report that names the refusal', async (driver, connection) => {
    const port = await closedPort();
    writeConfig(dir, `export default { connections: { main: ${connection(port)} } };`);
    // The default timeout (5 s): a refusal is reported as such, not as a ping that timed out.
    const { result, json } = await runJson<HealthJson>(['health', '--json'], { cwd: dir });
    expect(result.code, result.stderr).toBe(2);
    assertHealthSchema(json);
    expect(json).toMatchObject({ status: 'unreachable', exitCode: 2 });
    expect(json.connections).toEqual([
      expect.objectContaining({ name: 'main', driver, status: 'unreachable', reachable: false, pingMs: null, queues: [] }),
    ]);
    expect(json.connections[0]?.error).toMatch(new RegExp(`^${driver}: .*connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
  });

  it('one unreachable connection makes the whole report unreachable; the others are still reported', async () => {
    const port = await closedPort();
    writeConfig(
      dir,
      `export default { default: 'main', connections: { main: { driver: 'sqlite', filename: './q.sqlite' }, cache: { driver: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'qkcli-unused' } } };`,
    );
    // QUEUE_CACHE_URL points the cache connection at a closed port.
    const { result, json } = await runJson<HealthJson>(['health', '--json', '--timeout', '2'], {
      cwd: dir,
      env: { QUEUE_CACHE_URL: `redis://127.0.0.1:${port}` },
    });
    expect(result.code).toBe(2);
    assertHealthSchema(json);
    expect(json.connections.map((c) => [c.name, c.status])).toEqual([
      ['main', 'healthy'],
      ['cache', 'unreachable'],
    ]);
    const people = await runCli(['health', '--timeout', '2'], { cwd: dir, env: { QUEUE_CACHE_URL: `redis://127.0.0.1:${port}` } });
    expect(people.code).toBe(2);
    expect(people.stdout).toMatch(/^cache \(redis\): unreachable: /m);
    expect(people.stdout).toMatch(/status: unreachable \(exit 2\)$/m);
  });
});

describe('queue work on a backend that cannot be reached', () => {
  it.each([
    ['postgres', (port: number) => `{ driver: 'postgres', url: 'postgres://postgres@127.0.0.1:${port}/test' }`],
    ['redis', (port: number) => `{ driver: 'redis', url: 'redis://127.0.0.1:${port}' }`],
  ])('%s: exits 2 at start with the refusal as the cause, instead of retrying', async (driver, connection) => {
    const port = await closedPort();
    writeConfig(
      dir,
      `import { defineJob } from '@queuekit/core';
export default {
  connections: { main: ${connection(port)} },
  jobs: [defineJob('noop', async () => {})],
};`,
    );
    const result = await runCli(['work', '--once'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `^error: connection main \\(${driver}\\) is unreachable: ${driver}: ping.*: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`,
        'm',
      ),
    );
    expect(result.stdout).toBe('');
  });
});
