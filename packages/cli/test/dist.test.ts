import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendFixture } from './support/backends.js';
import { PACKAGE_DIR, runCli, runJson, tempDir, writeConfig } from './support/cli.js';
import { assertHealthSchema } from './support/health-schema.js';

const REPO_DIR = join(PACKAGE_DIR, '../..');

// The other test files run the TypeScript sources; this one builds the package and its
// dependencies with tsc and runs dist/bin.js as it ships, with no loader or source condition.
describe('the built dist/bin.js', () => {
  let dir: string;
  let removeDir: () => void;
  let redis: BackendFixture;

  beforeAll(() => {
    execFileSync('pnpm', ['--filter', '@queuekit/cli...', 'build'], { cwd: REPO_DIR, stdio: 'pipe', timeout: 110_000 });
    ({ dir, remove: removeDir } = tempDir());
    redis = BACKENDS.redis();
  });

  afterAll(async () => {
    await redis?.cleanup();
    removeDir?.();
  });

  it('starts with a shebang and prints its version', async () => {
    expect(readFileSync(join(PACKAGE_DIR, 'dist/bin.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    const result = await runCli(['--version'], { cwd: dir, mode: 'dist' });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')).version);
  });

  it('loads a queue.config.ts, pushes to SQLite and runs the job with work --once', async () => {
    writeConfig(
      dir,
      `import { appendFileSync } from 'node:fs';
import { defineJob } from '@queuekit/core';

interface Greeting { readonly name: string }
const greet = defineJob('greet', async (payload: Greeting) => {
  appendFileSync(new URL('./greeted.log', import.meta.url), payload.name + '\\n');
});

export default {
  default: 'main',
  connections: {
    main: { driver: 'sqlite', filename: './dist-test.sqlite' },
    cache: ${redis.connection},
  },
  jobs: [greet],
} as const;
`,
      'queue.config.ts',
    );
    const push = await runCli(['push', 'greet', '--payload', '{"name":"Ada"}'], { cwd: dir, mode: 'dist' });
    expect(push.code, push.stderr).toBe(0);
    const work = await runCli(['work', '--once'], { cwd: dir, mode: 'dist' });
    expect(work.code, work.stderr).toBe(0);
    expect(work.stdout).toMatch(/greet {2}\S+ {2}completed/);
    expect(work.stdout).toMatch(/worker stopped \(empty\): 1 job\(s\)/);
    expect(existsSync(join(dir, 'greeted.log'))).toBe(true);
    expect(readFileSync(join(dir, 'greeted.log'), 'utf8')).toBe('Ada\n');
  });

  it('reports health of SQLite and Redis as JSON that matches the schema, with exit 0', async () => {
    const { result, json } = await runJson<{ status: string; connections: { name: string; driver: string; reachable: boolean }[] }>(
      ['health', '--json'],
      { cwd: dir, mode: 'dist' },
    );
    expect(result.code, result.stderr).toBe(0);
    assertHealthSchema(json);
    expect(json.connections.map((c) => [c.name, c.driver, c.reachable])).toEqual([
      ['main', 'sqlite', true],
      ['cache', 'redis', true],
    ]);
  });
});
