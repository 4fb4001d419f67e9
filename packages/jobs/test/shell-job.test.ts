import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createEnvelope, InvalidPayloadError, type JobDefinition, Worker } from '@queuekit/core';
import { createMemoryDriver } from '@queuekit/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createShellJob, type ShellJobResult } from '../src/index.js';
import { runJob } from './fixtures/run-job.js';

const dirs: string[] = [];
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qk-shell-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const node = process.execPath;
const asDefinition = (definition: unknown) => definition as JobDefinition<never, unknown, never>;

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('ShellJob', () => {
  it('passes hostile arguments to the program as data: no shell runs, nothing outside the program happens', async () => {
    const cwd = workDir();
    writeFileSync(join(cwd, 'victim'), 'still here');
    const shell = createShellJob({ programs: { printf: '/usr/bin/printf' }, cwd });
    const hostile = [
      '; rm -rf victim',
      '$(touch pwned-subst)',
      '`touch pwned-backtick`',
      '&& touch pwned-and',
      '| touch pwned-pipe',
      '> pwned-redirect',
      '*',
      '$HOME',
      "'; touch pwned-quote; '",
    ];
    const run = await runJob(asDefinition(shell), shell.create({ program: 'printf', args: ['%s\\n', ...hostile] }));
    const result = run.result as ShellJobResult;
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n').slice(0, -1)).toEqual(hostile);
    expect(readdirSync(cwd).sort()).toEqual(['victim']);
    expect(readFileSync(join(cwd, 'victim'), 'utf8')).toBe('still here');
  });

  it('stays inside the allow-list: another program is refused at dispatch, and dead-lettered unrun when pushed by other code', async () => {
    const cwd = workDir();
    const shell = createShellJob({ programs: { printf: '/usr/bin/printf' }, cwd });
    expect(() => shell.create({ program: 'sh', args: ['-c', 'touch escaped'] })).toThrow(InvalidPayloadError);
    expect(() => shell.create({ program: 'sh' })).toThrow(/program: not an allowed program \(allowed: printf\)/);
    const driver = createMemoryDriver();
    const forged = createEnvelope({ name: 'shell', payload: { program: '/bin/sh', args: ['-c', 'touch escaped'] }, maxAttempts: 3 });
    await driver.push([forged]);
    await new Worker({ driver, jobs: [shell], waitMs: 20, stopWhenEmpty: true }).run();
    const entry = await driver.deadLetters.get(forged.id);
    expect(entry?.reason).toBe('invalid-payload');
    expect(existsSync(join(cwd, 'escaped'))).toBe(false);
  });

  it('refuses to be created without an allow-list of absolute paths or with a relative cwd', () => {
    expect(() => createShellJob({ programs: {}, cwd: '/tmp' })).toThrow(ConfigError);
    expect(() => createShellJob({ programs: { ls: 'ls' }, cwd: '/tmp' })).toThrow(/must be an absolute path/);
    expect(() => createShellJob({ programs: { ls: '/bin/ls' }, cwd: 'tmp' })).toThrow(/cwd must be an absolute path/);
  });

  it('runs in the given working directory with exactly the given environment', async () => {
    const cwd = workDir();
    const shell = createShellJob({ programs: { env: '/usr/bin/env', node }, cwd, env: { ONLY: 'this' } });
    const env = await runJob(asDefinition(shell), shell.create({ program: 'env' }));
    expect((env.result as ShellJobResult).stdout).toBe('ONLY=this\n');
    const where = await runJob(asDefinition(shell), shell.create({ program: 'node', args: ['-e', 'process.stdout.write(process.cwd())'] }));
    expect((where.result as ShellJobResult).stdout).toBe(cwd);
  });

  it('caps captured output and fails a non-zero exit with its exit code and the tail of stderr', async () => {
    const cwd = workDir();
    const shell = createShellJob({ programs: { node }, cwd, maxOutputBytes: 1_000 });
    const big = await runJob(
      asDefinition(shell),
      shell.create({ program: 'node', args: ['-e', "process.stdout.write('a'.repeat(100000))"] }),
    );
    expect(big.result).toMatchObject({ stdout: 'a'.repeat(1_000), truncated: true });
    const failing = await runJob(
      asDefinition(shell),
      shell.create({ program: 'node', args: ['-e', "process.stderr.write('x'.repeat(5000) + 'the real error'); process.exit(3)"] }),
    );
    expect(failing.deadLetter?.reason).toBe('failed');
    expect(failing.deadLetter?.error.code).toBe('COMMAND_FAILED');
    expect(failing.deadLetter?.error.message).toContain('node exited with code 3');
    expect(failing.deadLetter?.error.message).toMatch(/the real error$/);
  });

  it("the job's timeout kills the program and what it started, even when both ignore SIGTERM", async () => {
    const cwd = workDir();
    const shell = createShellJob({ programs: { node }, cwd, killGraceMs: 300 });
    const stubborn = [
      "const { spawn } = require('node:child_process');",
      "process.on('SIGTERM', () => {});",
      "const child = spawn(process.execPath, ['-e', \"process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)\"], { stdio: 'ignore' });",
      "require('node:fs').writeFileSync('pids', JSON.stringify([process.pid, child.pid]));",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const run = await runJob(asDefinition(shell), shell.create({ program: 'node', args: ['-e', stubborn] }).timeout(2_000));
    expect(run.deadLetter?.reason).toBe('timeout');
    const pids = JSON.parse(readFileSync(join(cwd, 'pids'), 'utf8')) as number[];
    expect(pids).toHaveLength(2);
    const deadline = Date.now() + 5_000;
    while (pids.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
