import { type DriverCapabilities, defineJob, type QueueDriver, Worker } from '@queuekit/core';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard } from '../src/index.js';
import { launchChromium, type TestBrowser } from '../src/testing/index.js';
import { BACKENDS, type BackendFixture, pushJobs, serveHandler } from './support/backends.js';

// The job-state pages (jobs by state, a job, pause / resume, cancel) in Chromium. Each test runs
// on every backend that declares the capability it needs and is skipped, visibly, on the others;
// where a driver declares none, the page must offer none of it.
const NAMES = ['memory', 'postgres', 'redis', 'sqlite'] as const;
const capabilities: Record<string, DriverCapabilities> = {};
for (const name of NAMES) {
  const fixture = BACKENDS[name]();
  capabilities[name] = (await fixture.manager.connection()).capabilities;
  await fixture.cleanup();
}

let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

describe.each(NAMES)('job state pages on %s', (backend) => {
  const caps = capabilities[backend] as DriverCapabilities;
  let fixture: BackendFixture;
  let driver: QueueDriver;
  let server: { url: string; close(): Promise<void> };
  let page: Page;
  const queue = `jobs-${backend}`;

  beforeAll(async () => {
    fixture = BACKENDS[backend]();
    driver = await fixture.manager.connection();
    server = await serveHandler(createDashboard({ manager: fixture.manager, queues: [queue], refreshMs: 1_000 }));
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await page?.close();
    await server?.close();
    await driver?.purge(queue);
    await fixture?.cleanup();
  });

  it.skipIf(caps.lookup)('offers only the dead letters and no pause where the driver declares no lookup or pause', async () => {
    await page.goto(`${server.url}/connections/main/queues/${queue}`);
    expect(await page.locator('[data-tab]').evaluateAll((tabs) => tabs.map((t) => t.getAttribute('data-tab')))).toEqual(['failed']);
    expect(await page.getByRole('button', { name: 'Pause the queue' }).count()).toBe(caps.pause ? 1 : 0);
  });

  it.skipIf(!caps.lookup)('lists a queue’s jobs by state with paging, and finds one by id or by name', async () => {
    const reports = await pushJobs(driver, queue, 'report', 60);
    await pushJobs(driver, queue, 'invoice', 2);
    await page.goto(`${server.url}/connections/main/queues/${queue}`);
    expect(await page.locator('[data-tab="waiting"]').textContent()).toBe('waiting (62)');
    expect(await page.locator('tr[data-job]').count()).toBe(50);
    expect(await page.locator('tr[data-job]').first().getAttribute('data-job')).toBe(reports[0]);
    await page.locator('a[data-page="next"]').click();
    expect(await page.locator('tr[data-job]').count()).toBe(12);
    expect(await page.locator('a[data-page="next"]').count()).toBe(0);

    const search = page.getByRole('searchbox', { name: 'search by id or name' });
    await search.fill(reports[7] as string);
    await page.getByRole('button', { name: 'Search' }).click();
    expect(await page.locator('tr[data-job]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')))).toEqual([reports[7]]);
    await page.getByRole('searchbox', { name: 'search by id or name' }).fill('invoice');
    await page.getByRole('button', { name: 'Search' }).click();
    expect(await page.locator('tr[data-job]').count()).toBe(2);
    expect(await page.locator('.card[data-jobs] p.meta').textContent()).toContain('2 waiting jobs named invoice');
  });

  it.skipIf(!caps.pause)('pause shows on the queue page and the overview, and holds: no worker takes a job until resume', async () => {
    await driver.purge(queue);
    const [id] = await pushJobs(driver, queue, 'report', 1);
    await page.goto(`${server.url}/connections/main/queues/${queue}`);
    await page.getByRole('button', { name: 'Pause the queue' }).click();
    await expect.poll(() => page.locator('.flash').textContent()).toContain('paused');
    expect(await page.locator('#counts [data-paused]').count()).toBe(1);
    await page.goto(`${server.url}/`);
    expect(await page.locator(`tr[data-queue="main/${queue}"] [data-paused]`).count()).toBe(1);
    expect(await page.locator('ul.problems').textContent()).toContain('paused');

    const ran: string[] = [];
    const report = defineJob('report', async (_payload: unknown, ctx) => {
      ran.push(ctx.id);
    });
    const worker = new Worker({ driver, jobs: [report], queues: [queue], waitMs: 100, shutdownGraceMs: 500 });
    const running = worker.run();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(ran).toEqual([]);
    expect((await driver.stats(queue)).ready).toBe(1);

    await page.goto(`${server.url}/connections/main/queues/${queue}`);
    await page.getByRole('button', { name: 'Resume the queue' }).click();
    await expect.poll(() => ran, { timeout: 10_000 }).toEqual([id]);
    await worker.stop();
    await running;
    expect(await page.locator('#counts [data-paused]').count()).toBe(0);
  });

  it.skipIf(!caps.cancel)('a job page shows a waiting job, and cancel from it ends the job', async () => {
    const [id] = await pushJobs(driver, queue, 'report', 1, { user: 'ann', token: 'tok_secret' });
    await page.goto(`${server.url}/connections/main/jobs/${id}?queue=${queue}`);
    expect(await page.locator('[data-state]').getAttribute('data-state')).toBe('waiting');
    expect(await page.locator('pre[data-payload]').textContent()).not.toContain('tok_secret');
    await page.getByRole('button', { name: 'Cancel this job' }).click();
    await expect.poll(() => page.locator('.flash').textContent()).toBe('cancelled');
    expect(await page.locator('[data-state]').getAttribute('data-state')).toBe('cancelled');
    expect(await page.getByRole('button', { name: 'Cancel this job' }).count()).toBe(0);
  });

  it.skipIf(!caps.retention || !caps.progress)('a completed job shows its progress and result', async () => {
    await driver.purge(queue);
    const [id] = await pushJobs(driver, queue, 'report', 1, { rows: 3 });
    const report = defineJob('report', async (payload: { rows: number }, ctx) => {
      ctx.progress({ done: payload.rows, of: payload.rows });
      return { written: payload.rows, password: 'never-shown' };
    });
    await new Worker({ driver, jobs: [report], queues: [queue], waitMs: 50, stopWhenEmpty: true, shutdownGraceMs: 500 }).run();
    await page.goto(`${server.url}/connections/main/queues/${queue}?state=completed`);
    await page.locator(`tr[data-job="${id}"] a`).click();
    expect(await page.locator('[data-state]').getAttribute('data-state')).toBe('completed');
    const result = await page.locator('pre[data-result]').textContent();
    expect(result).toContain('"written": 3');
    expect(result).not.toContain('never-shown');
    expect(await page.locator('pre[data-progress]').textContent()).toContain('"done": 3');
  });
});
