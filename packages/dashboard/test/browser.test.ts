import { mkdirSync } from 'node:fs';
import { createEnvelope, defineJob, type JobDescriptor, type QueueDriver, Worker } from '@queuekit/core';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard, JobRateRecorder } from '../src/index.js';
import { launchChromium, type TestBrowser } from '../src/testing/index.js';
import { BACKENDS, type BackendFixture, deadLetter, pushJobs, serveHandler } from './support/backends.js';

// The dashboard in a real Chromium (Debian's package, driven by playwright-core) against real
// PostgreSQL, Redis and SQLite. Screenshots of the PostgreSQL run go to screenshots/ (ignored by
// git), or to docs/ for the README when DASHBOARD_UPDATE_DOCS=1, so a test run leaves the tree clean.
const SCREENSHOTS = new URL(process.env.DASHBOARD_UPDATE_DOCS === '1' ? '../docs/' : '../screenshots/', import.meta.url).pathname;

let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

const followUp: JobDescriptor = {
  name: 'follow-up',
  queue: 'mail',
  payload: undefined,
  priority: 20,
  delayMs: 0,
  maxAttempts: 1,
  retry: { type: 'none' },
  callbacks: { then: [], catch: [], finally: [] },
};

const cell = (page: Page, queue: string, count: string) =>
  page.locator(`#overview tr[data-queue="main/${queue}"] td[data-count="${count}"]`);

describe.each(['postgres', 'redis', 'sqlite'] as const)('dashboard on %s in Chromium', (backend) => {
  let fixture: BackendFixture;
  let driver: QueueDriver;
  let server: { url: string; close(): Promise<void> };
  let readOnlyServer: { url: string; close(): Promise<void> };
  let page: Page;
  const rates = new JobRateRecorder();

  beforeAll(async () => {
    fixture = BACKENDS[backend]();
    driver = await fixture.manager.connection();
    const options = {
      manager: fixture.manager,
      queues: ['default', 'mail'],
      thresholds: { maxReady: 5 },
      schedules: [{ name: 'nightly-report', cron: '0 3 * * *' }],
      rates,
      refreshMs: 1_000,
    };
    server = await serveHandler(createDashboard(options));
    readOnlyServer = await serveHandler(createDashboard({ ...options, readOnly: true }));
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await page?.close();
    await server?.close();
    await readOnlyServer?.close();
    await fixture?.cleanup();
  });

  it('the overview shows the counts the driver reports, and follows new jobs without a reload', async () => {
    await pushJobs(driver, 'default', 'report', 3);
    await driver.push([
      createEnvelope({ name: 'send-mail', queue: 'mail', availableAt: Date.now() + 3_600_000, payload: { to: 'a@example.com' } }),
    ]);
    await deadLetter(driver, 'mail', 'send-mail', { name: 'Error', message: 'mailbox full' });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });
    await page.goto(`${server.url}/`);
    for (const queue of ['default', 'mail']) {
      const stats = await driver.stats(queue);
      expect(await cell(page, queue, 'ready').textContent()).toBe(String(stats.ready));
      expect(await cell(page, queue, 'delayed').textContent()).toBe(String(stats.delayed));
      expect(await cell(page, queue, 'reserved').textContent()).toBe(String(stats.reserved));
      expect((await cell(page, queue, 'dead').textContent())?.trim()).toBe(String(stats.dead));
    }
    expect(await cell(page, 'default', 'ready').textContent()).toBe('3');
    expect(await page.locator('tr[data-schedule="nightly-report"]').count()).toBe(1);

    const before = navigations;
    await pushJobs(driver, 'default', 'report', 4);
    await expect.poll(() => cell(page, 'default', 'ready').textContent(), { timeout: 10_000 }).toBe('7');
    // Over the threshold of 5: listed among the problems, which come first.
    await expect.poll(() => page.locator('ul.problems').textContent(), { timeout: 10_000 }).toContain('ready 7 > max 5');
    expect(navigations).toBe(before);
  });

  it('retrying a dead-letter group from the page, after its dry-run count, runs its jobs', async () => {
    const smtp = [];
    for (let i = 0; i < 3; i += 1)
      smtp.push(await deadLetter(driver, 'mail', 'send-mail', { name: 'Error', message: 'SMTP timeout' }, { i }));
    for (let i = 0; i < 2; i += 1) await deadLetter(driver, 'mail', 'send-mail', { name: 'Error', message: 'bad address' }, { i });

    await page.goto(`${server.url}/connections/main/dead?queue=mail`);
    const row = page.locator('tr[data-group]', { hasText: 'SMTP timeout' });
    expect(await row.locator('td[data-count="group"]').textContent()).toBe('3');
    await row.locator('a[data-action="retry-group"]').click();
    expect(await page.locator('[data-dry-run]').getAttribute('data-dry-run')).toBe('3');
    await page.getByRole('button', { name: 'Retry 3' }).click();
    await expect.poll(() => page.locator('.flash').textContent()).toBe('retried 3 jobs');
    expect(await page.locator('tr[data-group]', { hasText: 'SMTP timeout' }).count()).toBe(0);
    expect(await page.locator('tr[data-group]', { hasText: 'bad address' }).locator('td[data-count="group"]').textContent()).toBe('2');

    const ran: string[] = [];
    const sendMail = defineJob('send-mail', async (_payload: unknown, ctx) => {
      ran.push(ctx.id);
    });
    const worker = new Worker({ driver, jobs: [sendMail], queues: ['mail'], waitMs: 50, stopWhenEmpty: true, shutdownGraceMs: 1_000 });
    const stop = rates.observe(worker, 'main');
    await worker.run();
    stop();
    expect(ran.sort()).toEqual([...smtp].sort());

    // The worker's jobs appear as throughput on the overview, read from the completed jobs the backend keeps.
    await page.goto(`${server.url}/`);
    expect(await cell(page, 'mail', 'done-1h').textContent()).toBe('3');
    expect(await cell(page, 'mail', 'done-1h').getAttribute('data-rates-source')).toBe('retained');
    if (backend === 'postgres') {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: `${SCREENSHOTS}overview.png`, fullPage: true });
    }
  });

  it('purging a dead-letter group from the page, after its dry-run count, deletes exactly its entries', async () => {
    const other = await deadLetter(driver, 'mail', 'send-mail', { name: 'Error', message: 'quota exceeded' });
    const group = await driver.deadLetters.list({ queue: 'mail', limit: 1000 });
    const badAddress = group.filter((e) => e.error.message === 'bad address').map((e) => e.id);
    expect(badAddress).toHaveLength(2);

    await page.goto(`${server.url}/connections/main/dead?queue=mail`);
    await page.locator('tr[data-group]', { hasText: 'bad address' }).locator('a[data-action="purge-group"]').click();
    expect(await page.locator('[data-dry-run]').getAttribute('data-dry-run')).toBe('2');
    // The dry run changed nothing.
    for (const id of badAddress) expect(await driver.deadLetters.get(id)).toBeDefined();
    await page.getByRole('button', { name: 'Purge 2' }).click();
    await expect.poll(() => page.locator('.flash').textContent()).toBe('purged 2 jobs');
    expect(await page.locator('tr[data-group]', { hasText: 'bad address' }).count()).toBe(0);
    for (const id of badAddress) expect(await driver.deadLetters.get(id)).toBeUndefined();
    expect(await driver.deadLetters.get(other)).toBeDefined();
  });

  it('a payload holding <script> renders as text on the job page', async () => {
    const id = await deadLetter(
      driver,
      'mail',
      'send-mail',
      {
        name: 'TypeError',
        message: '<img src=x onerror="window.__pwned=2">',
        stack: 'TypeError: <b>bold</b>\n    at handler (mail.ts:1:1)',
      },
      { to: 'a@example.com', html: '<script>window.__pwned=1</script>', apiKey: 'sk_live_123' },
      {
        trace: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
        callbacks: {
          then: [{ ...followUp, name: 'log-sent' }],
          catch: [{ ...followUp, name: 'alert-ops', callbacks: { then: [{ ...followUp, name: 'page-oncall' }], catch: [], finally: [] } }],
          finally: [],
        },
      },
    );
    await page.goto(`${server.url}/connections/main/dead/${id}`);
    const payload = await page.locator('pre[data-payload]').textContent();
    expect(payload).toContain('<script>window.__pwned=1</script>');
    expect(payload).not.toContain('sk_live_123');
    expect(await page.locator('pre[data-stack]').textContent()).toContain('<b>bold</b>');
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.locator('[data-trace]').textContent()).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(await page.locator('[data-follow-up="then"] td').allTextContents()).toEqual(['then', 'log-sent', 'mail', '0']);
    expect(await page.locator('[data-follow-up="catch"] td').allTextContents()).toEqual(['catch', 'alert-ops', 'mail', '1']);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    if (backend === 'postgres') {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: `${SCREENSHOTS}job.png`, fullPage: true });
    }
  });

  it('purge asks first with the count it would delete, then empties the queue', async () => {
    const ready = (await driver.stats('default')).ready;
    expect(ready).toBeGreaterThan(0);
    await page.goto(`${server.url}/connections/main/queues/default`);
    await page.locator('a[data-action="purge"]').click();
    expect(await page.locator('[data-dry-run]').getAttribute('data-dry-run')).toBe(String(ready));
    expect((await driver.stats('default')).ready).toBe(ready);
    await page.getByRole('button', { name: 'Purge' }).click();
    await expect.poll(() => page.locator('.flash').textContent()).toBe(`purged ${ready} jobs`);
    expect(await page.locator('td[data-count="ready"]').textContent()).toBe('0');
    expect((await driver.stats('default')).ready).toBe(0);
  });

  it('read-only shows no action and refuses a POST made from the page', async () => {
    const id = await deadLetter(driver, 'mail', 'send-mail', { name: 'Error', message: 'kept' });
    await page.goto(`${readOnlyServer.url}/connections/main/dead?queue=mail`);
    expect(await page.locator('[data-read-only]').count()).toBe(1);
    expect(await page.locator('a[data-action="retry-group"]').count()).toBe(0);
    expect(await page.locator('a[data-action="purge-group"]').count()).toBe(0);
    await page.goto(`${readOnlyServer.url}/connections/main/dead/${id}`);
    expect(await page.locator('form').count()).toBe(0);
    const status = await page.evaluate(async (jobId) => {
      const response = await fetch(`/connections/main/dead/${jobId}/retry`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'confirm=yes',
      });
      return response.status;
    }, id);
    expect(status).toBe(403);
    expect(await driver.deadLetters.get(id)).toBeDefined();
  });
});
