import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { configSource } from './support/backends.js';
import { runCli, tempDir, writeConfig } from './support/cli.js';

const SQLITE = `{ driver: 'sqlite', filename: './queue.sqlite' }`;

let dir: string;
let removeDir: () => void;
beforeEach(() => {
  ({ dir, remove: removeDir } = tempDir());
  writeConfig(dir, configSource(SQLITE));
});
afterEach(() => removeDir());

const push = async (args: string[]) => {
  const result = await runCli(['push', ...args], { cwd: dir });
  expect(result.code, result.stderr).toBe(0);
};

describe('queue work progress', () => {
  it('the summary counts a job once however many runs it took, and its retried runs apart', async () => {
    await push(['fail', '--attempts', '3']);
    await push(['record', '--payload', '1']);
    const work = await runCli(['work', '--once'], { cwd: dir });
    expect(work.code, work.stderr).toBe(0);
    expect(work.stdout).toMatch(
      /^worker stopped \(empty\): 2 job\(s\) in \S+: 1 completed, 1 dead-lettered, 0 released, 0 awaiting a retry; 2 retried run\(s\)$/m,
    );
    // Not a terminal, and no --status: no status lines.
    expect(work.stdout).not.toMatch(/status:/);
    await push(['fail', '--attempts', '2']);
    const json = await runCli(['work', '--once', '--json'], { cwd: dir });
    const stopped = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((event) => event.event === 'stopped');
    expect(stopped).toMatchObject({ jobs: 1, completed: 0, failed: 2, retried: 1, deadLettered: 1, awaitingRetry: 0 });
  });

  it('--status prints a periodic status line with jobs/s, completed, failed, active and the oldest wait', async () => {
    await push(['slow', '--payload', '{"ms":1500}']);
    await push(['record', '--payload', '1']);
    const work = await runCli(['work', '--once', '--status', '0.3'], { cwd: dir });
    expect(work.code, work.stderr).toBe(0);
    // While the slow job runs (concurrency 1) the record job waits: its age is the oldest wait.
    expect(work.stdout).toMatch(/^\S+ {2}status: \d+(\.\d)? jobs\/s, 0 completed, 0 failed, 1 active, oldest wait \d+(ms|\.\ds)$/m);
  });

  it('on a terminal the status line is on by default (every 5 s)', { timeout: 30_000 }, async () => {
    await push(['slow', '--payload', '{"ms":5600}']);
    let stdout = '';
    const code = await main(['node', 'queue', 'work', '--once'], {
      stdout: (text) => {
        stdout += text;
      },
      stderr: () => {},
      cwd: dir,
      env: {},
      interactive: false,
      terminal: true,
      confirm: async () => false,
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/status: \d+(\.\d)? jobs\/s, 0 completed, 0 failed, 1 active, oldest wait -$/m);
  });
});
