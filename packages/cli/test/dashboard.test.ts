import { Scheduler } from '@queuekit/core';
import { launchChromium, type TestBrowser } from '@queuekit/dashboard/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendFixture, configSource } from './support/backends.js';
import { type RunningCli, runCli, runJson, startCli, tempDir, writeConfig } from './support/cli.js';

interface StatsJson {
  queues: { queue: string; ready: number; delayed: number; reserved: number; dead: number }[];
}

// `queue dashboard` as a user runs it, looked at in a real Chromium, against real backends.
let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

/** Starts `queue dashboard` on a free port; the caller keeps the child so that a failed test still ends it. */
function startDashboard(args: readonly string[], cwd: string): RunningCli {
  return startCli(['dashboard', '--port', '0', ...args], { cwd, timeoutMs: 120_000 });
}

/** The address the dashboard says it serves. */
async function addressOf(cli: RunningCli): Promise<string> {
  await cli.waitFor(/queue dashboard on http:\/\/\S+/);
  return /queue dashboard on (http:\/\/\S+?)\/?(\s|$)/.exec(cli.stdout())?.[1] as string;
}

describe.each(['sqlite', 'redis', 'postgres'] as const)('queue dashboard on %s', (backendName) => {
  let backend: BackendFixture;
  let dir: string;
  let removeDir: () => void;
  let cli: RunningCli | undefined;

  beforeEach(() => {
    backend = BACKENDS[backendName]();
    ({ dir, remove: removeDir } = tempDir());
    writeConfig(
      dir,
      configSource(
        backend.connection,
        `schedules: [{ name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Paris', job: () => record.create({ nightly: true }) }],`,
      ),
    );
  });
  afterEach(async () => {
    if (cli !== undefined && cli.child.exitCode === null) cli.child.kill('SIGKILL');
    cli = undefined;
    await backend.cleanup();
    removeDir();
  });

  it('shows the counts queue stats --json gives, follows a new job live, and stops on SIGTERM', async () => {
    const ok = async (args: string[]) => expect((await runCli(args, { cwd: dir })).code).toBe(0);
    // A failing job run once goes to the dead letters; then two ready jobs and a delayed one.
    await ok(['push', 'fail']);
    await ok(['push', 'record']);
    await ok(['work', '--once']);
    await ok(['push', 'record']);
    await ok(['push', 'record']);
    await ok(['push', 'record', '--delay', '3600000']);
    const { json: stats } = await runJson<StatsJson>(['stats', '--json'], { cwd: dir });
    const expected = stats.queues.find((q) => q.queue === 'default');
    expect(expected).toMatchObject({ ready: 2, delayed: 1, dead: 1 });

    cli = startDashboard(['--refresh', '1'], dir);
    const started = { url: await addressOf(cli) };
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${started.url}/`);
      const cell = (count: string) => page.locator(`tr[data-queue="main/default"] td[data-count="${count}"]`);
      expect(await cell('ready').textContent()).toBe(String(expected?.ready));
      expect(await cell('delayed').textContent()).toBe(String(expected?.delayed));
      expect(await cell('reserved').textContent()).toBe(String(expected?.reserved));
      expect((await cell('dead').textContent())?.trim()).toBe(String(expected?.dead));

      // The job a worker process completed counts in the last hour, read from the records the backend keeps.
      const done = cell('done-1h');
      expect(await done.textContent()).toBe('1');
      expect(await done.getAttribute('data-rates-source')).toBe('retained');
      // The config's schedules, with their next tick.
      const nextTick = Scheduler.nextTick({ name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Paris' }, Date.now());
      expect(await page.locator('tr[data-schedule="nightly"] td[data-next-tick] time').getAttribute('datetime')).toBe(
        new Date(nextTick).toISOString(),
      );
      // Its last tick is read from the backend's ledger of fired ticks: none fired yet.
      const last = page.locator('tr[data-schedule="nightly"] td[data-last-tick]');
      expect(await last.getAttribute('data-last-tick-from')).toBe('ledger');
      expect(await last.textContent()).toBe('none fired yet');

      await ok(['push', 'record']);
      await expect.poll(() => cell('ready').textContent(), { timeout: 15_000 }).toBe(String((expected?.ready ?? 0) + 1));

      const health = (await (await page.request.get(`${started.url}/api/health`)).json()) as {
        schemaVersion: number;
        connections: { queues: { name: string; ready: number }[] }[];
      };
      expect(health.schemaVersion).toBe(1);
      expect(health.connections[0]?.queues[0]).toMatchObject({ name: 'default', ready: (expected?.ready ?? 0) + 1 });
    } finally {
      await page.close();
    }
    cli.child.kill('SIGTERM');
    expect((await cli.done).code).toBe(0);
  }, 180_000);
});

describe('queue dashboard security flags', () => {
  let dir: string;
  let removeDir: () => void;
  let cli: RunningCli | undefined;
  beforeEach(() => {
    ({ dir, remove: removeDir } = tempDir());
    writeConfig(dir, configSource(BACKENDS.sqlite().connection));
  });
  afterEach(() => {
    if (cli !== undefined && cli.child.exitCode === null) cli.child.kill('SIGKILL');
    cli = undefined;
    removeDir();
  });

  it('--token and --read-only: no token, no page; with it, no action, and a POST is refused', async () => {
    cli = startDashboard(['--token', 'tok-123', '--read-only'], dir);
    const started = { url: await addressOf(cli) };
    expect(cli.stdout()).toMatch(/\(read-only\) \(token required\)/);
    expect((await fetch(`${started.url}/`)).status).toBe(401);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${started.url}/?token=tok-123`);
      expect(new URL(page.url()).search).toBe('');
      expect(await page.locator('[data-read-only]').count()).toBe(1);
      await page.goto(`${started.url}/connections/main/queues/default`);
      expect(await page.locator('a[data-action="purge"]').count()).toBe(0);
      const status = await page.evaluate(
        async () => (await fetch('/connections/main/queues/default/purge', { method: 'POST', body: 'confirm=yes' })).status,
      );
      expect(status).toBe(403);
    } finally {
      await page.close();
    }
  });

  it('refuses to bind a non-loopback address without a token', async () => {
    const result = await runCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--host 0\.0\.0\.0 is not loopback: set --token/);
  });
});
