import {
  cancelJob,
  deadLetterJobInfo,
  describeError,
  isQueueError,
  isValidQueueName,
  type JobState,
  listJobs,
  lookupJob,
  maskSensitiveText,
  pauseQueue,
  type QueueDriver,
  quoteInput,
  resumeQueue,
} from '@queuekit/core';
import { type Context, Hono } from 'hono';
import { html } from 'hono/html';
import { assets } from './assets.js';
import type { DashboardOptions } from './dashboard-options.js';
import { type DeadLetterGroup, groupDeadLetters, purgeGroup, retryGroup } from './dead-letter-groups.js';
import { collectHealth, collectOverview, type OverviewModel, scheduleStatuses } from './overview.js';
import { DashboardSecrets, securityMiddleware } from './security.js';
import { deadLettersPage, groupPage } from './views/dead-letters-view.js';
import { jobPage } from './views/job-view.js';
import { page, type ViewContext } from './views/layout.js';
import { overviewFragment, overviewPage, schedulesPage } from './views/overview-view.js';
import { type JobListing, purgeConfirmPage, queueCounts, queuePage, statesOf } from './views/queue-view.js';

/** A Fetch-API request handler: mounts into Hono, Express (through an adapter), Fastify or Node's http. */
export type DashboardHandler = (request: Request) => Promise<Response>;

class NotFound extends Error {}

/** How many jobs of a state a search by name looks through. */
const NAME_SCAN = 1_000;

/**
 * The dashboard as a Fetch-API handler over a QueueManager: overview of every connection and
 * queue (the `queue health` data), a page per queue, dead letters grouped by error with bulk
 * retry, dead-lettered jobs, schedules, and JSON at `/api/health` and `/api/overview`. Pages
 * refresh their numbers live (htmx, served from the package). Actions are CSRF-protected POSTs,
 * hidden and refused with `readOnly`; with `token` every request must carry it.
 */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  if (options.token !== undefined && options.token.length === 0) throw new TypeError('createDashboard: token must not be empty');
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  const secrets = new DashboardSecrets();
  const view: ViewContext = { base, csrf: secrets.csrfToken, readOnly: options.readOnly === true, refreshMs: options.refreshMs ?? 5_000 };
  const scanLimit = options.deadLetterScanLimit ?? 1_000;
  const app = new Hono().basePath(base === '' ? '/' : base);

  app.use('*', securityMiddleware({ secrets, token: options.token, readOnly: view.readOnly, cookiePath: base === '' ? '/' : base }));

  const connection = async (c: Context): Promise<{ name: string; driver: QueueDriver }> => {
    const name = c.req.param('connection') ?? '';
    if (!options.manager.names().includes(name)) throw new NotFound(`no connection ${quoteInput(name)}`);
    return { name, driver: await options.manager.connection(name) };
  };
  const queueParam = (c: Context): string => {
    const queue = c.req.param('queue') ?? '';
    if (!isValidQueueName(queue)) throw new NotFound(`no queue ${quoteInput(queue)}`);
    return queue;
  };
  const optionalQueue = (c: Context): string | undefined => {
    const queue = c.req.query('queue') ?? (typeof c.req.param('queue') === 'string' ? c.req.param('queue') : undefined);
    if (queue === undefined || queue === '') return undefined;
    if (!isValidQueueName(queue)) throw new NotFound(`no queue ${quoteInput(queue)}`);
    return queue;
  };
  const formField = async (c: Context, name: string): Promise<string | undefined> => {
    const value = (await c.req.parseBody())[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const confirmed = async (c: Context) => (await formField(c, 'confirm')) === 'yes';
  const flash = (c: Context) => c.req.query('done');
  const redirect = (c: Context, path: string, done: string) =>
    c.redirect(`${path}${path.includes('?') ? '&' : '?'}done=${encodeURIComponent(done)}`, 303);
  const findGroup = async (driver: QueueDriver, key: string, queue: string | undefined): Promise<DeadLetterGroup> => {
    const grouping = await groupDeadLetters(driver.deadLetters, { ...(queue === undefined ? {} : { queue }), limit: scanLimit });
    const group = grouping.groups.find((g) => g.key === key);
    if (group === undefined) throw new NotFound('no such dead-letter group (its entries may have been retried or purged)');
    return group;
  };
  const link = (...segments: string[]) => `${base}/${segments.map(encodeURIComponent).join('/')}`;

  app.get('/assets/:file', (c) => {
    const asset = assets().get(c.req.param('file'));
    if (asset === undefined) return c.notFound();
    return c.body(asset.body, 200, { 'content-type': asset.contentType, 'cache-control': 'public, max-age=3600' });
  });

  // Viewers refreshing at once share one collection instead of each running their own.
  let collecting: Promise<OverviewModel> | undefined;
  const overview = (): Promise<OverviewModel> => {
    collecting ??= collectOverview(options).finally(() => {
      collecting = undefined;
    });
    return collecting;
  };

  app.get('/', async (c) => c.html(overviewPage(view, await overview())));
  app.get('/fragments/overview', async (c) => c.html(overviewFragment(view, await overview())));
  app.get('/api/health', async (c) => c.json(await collectHealth(options)));
  app.get('/api/overview', async (c) => c.json(await overview()));
  app.get('/schedules', async (c) => {
    const now = Date.now();
    return c.html(schedulesPage(view, await scheduleStatuses(options, now), now));
  });

  app.get('/connections/:connection/queues/:queue', async (c) => {
    const { name, driver } = await connection(c);
    const queue = queueParam(c);
    const capabilities = driver.capabilities;
    const states = statesOf(capabilities);
    const asked = c.req.query('state') as JobState | undefined;
    const state = asked !== undefined && states.includes(asked) ? asked : (states[0] as JobState);
    const listing = await listQueueJobs(driver, queue, state, Number(c.req.query('offset') ?? 0), c.req.query('q'));
    return c.html(queuePage(view, { connection: name, queue, stats: await driver.stats(queue), capabilities, listing }, flash(c)));
  });
  app.post('/connections/:connection/queues/:queue/pause', async (c) => {
    const { name, driver } = await connection(c);
    const queue = queueParam(c);
    await pauseQueue(driver, queue);
    return redirect(c, link('connections', name, 'queues', queue), 'paused: workers take no job from this queue');
  });
  app.post('/connections/:connection/queues/:queue/resume', async (c) => {
    const { name, driver } = await connection(c);
    const queue = queueParam(c);
    await resumeQueue(driver, queue);
    return redirect(c, link('connections', name, 'queues', queue), 'resumed');
  });
  app.get('/connections/:connection/queues/:queue/counts', async (c) => {
    const { name, driver } = await connection(c);
    const queue = queueParam(c);
    return c.html(queueCounts(view, { connection: name, queue, stats: await driver.stats(queue) }));
  });
  app.get('/connections/:connection/queues/:queue/purge', async (c) => {
    const { name, driver } = await connection(c);
    const queue = queueParam(c);
    return c.html(purgeConfirmPage(view, { connection: name, queue, stats: await driver.stats(queue) }));
  });
  app.post('/connections/:connection/queues/:queue/purge', async (c) => {
    const { name, driver } = await connection(c);
    const queue = queueParam(c);
    if (!(await confirmed(c))) return c.text('purge needs confirm=yes (see the confirmation page)\n', 400);
    const removed = await driver.purge(queue);
    return redirect(c, link('connections', name, 'queues', queue), `purged ${removed} job${removed === 1 ? '' : 's'}`);
  });

  app.get('/connections/:connection/dead', async (c) => {
    const { name, driver } = await connection(c);
    const queue = optionalQueue(c);
    const grouping = await groupDeadLetters(driver.deadLetters, { ...(queue === undefined ? {} : { queue }), limit: scanLimit });
    return c.html(deadLettersPage(view, name, queue, grouping, flash(c)));
  });
  app.get('/connections/:connection/dead/groups/:key', async (c) => {
    const { name, driver } = await connection(c);
    const queue = optionalQueue(c);
    const group = await findGroup(driver, c.req.param('key'), queue);
    const shown = (await Promise.all(group.ids.slice(0, 50).map((id) => driver.deadLetters.get(id)))).filter((e) => e !== undefined);
    const action = c.req.query('action');
    const confirm = view.readOnly || (action !== 'retry' && action !== 'purge') ? undefined : action;
    return c.html(groupPage(view, name, queue, group, shown, confirm));
  });
  for (const action of ['retry', 'purge'] as const) {
    app.post(`/connections/:connection/dead/groups/:key/${action}`, async (c) => {
      const { name, driver } = await connection(c);
      const queue = await formField(c, 'queue');
      if (queue !== undefined && !isValidQueueName(queue)) throw new NotFound(`no queue ${quoteInput(queue)}`);
      if (!(await confirmed(c))) return c.text(`${action} of a group needs confirm=yes (see the dry run)\n`, 400);
      const group = await findGroup(driver, c.req.param('key'), queue);
      const result = await (action === 'retry' ? retryGroup : purgeGroup)(driver.deadLetters, group);
      const back = `${link('connections', name, 'dead')}${queue === undefined ? '' : `?queue=${encodeURIComponent(queue)}`}`;
      const verb = action === 'retry' ? 'retried' : 'purged';
      return redirect(
        c,
        back,
        `${verb} ${result.done} job${result.done === 1 ? '' : 's'}${result.skipped > 0 ? `, ${result.skipped} skipped` : ''}`,
      );
    });
  }
  app.get('/connections/:connection/dead/:id', async (c) => {
    const { name, driver } = await connection(c);
    const entry = await driver.deadLetters.get(c.req.param('id'));
    if (entry === undefined) throw new NotFound(`no dead letter ${quoteInput(c.req.param('id'))} on ${name}`);
    return c.html(
      jobPage(view, { connection: name, job: deadLetterJobInfo(entry), capabilities: driver.capabilities, raw: entry.raw }, flash(c)),
    );
  });
  app.get('/connections/:connection/jobs/:id', async (c) => {
    const { name, driver } = await connection(c);
    const id = c.req.param('id');
    const queue = optionalQueue(c);
    // Without lookup only the dead letters can be found by id.
    const entry = driver.capabilities.lookup ? undefined : await driver.deadLetters.get(id);
    const job = driver.capabilities.lookup
      ? await lookupJob(driver, id, queue === undefined ? {} : { queue })
      : entry && deadLetterJobInfo(entry);
    if (job === undefined) throw new NotFound(`no job ${quoteInput(id)} on ${name}`);
    return c.html(jobPage(view, { connection: name, job, capabilities: driver.capabilities, raw: entry?.raw }, flash(c)));
  });
  app.post('/connections/:connection/jobs/:id/cancel', async (c) => {
    const { name, driver } = await connection(c);
    const id = c.req.param('id');
    const queue = await formField(c, 'queue');
    if (queue !== undefined && !isValidQueueName(queue)) throw new NotFound(`no queue ${quoteInput(queue)}`);
    const outcome = await cancelJob(driver, id, queue === undefined ? {} : { queue });
    if (outcome === 'not-found') throw new NotFound(`no job ${quoteInput(id)} on ${name}`);
    const back = `${link('connections', name, 'jobs', id)}${queue === undefined ? '' : `?queue=${encodeURIComponent(queue)}`}`;
    return redirect(c, back, outcome === 'cancelled' ? 'cancelled' : 'it had already finished: nothing changed');
  });
  app.post('/connections/:connection/dead/:id/retry', async (c) => {
    const { name, driver } = await connection(c);
    const id = c.req.param('id');
    const retried = await driver.deadLetters.retry(id);
    if (!retried) throw new NotFound(`no dead letter ${quoteInput(id)} on ${name}`);
    return redirect(c, link('connections', name, 'dead'), `retried job ${id}`);
  });

  /** One page of a queue's jobs in `state`; `search` is a job id, else a name looked for among the first 1,000. */
  async function listQueueJobs(
    driver: QueueDriver,
    queue: string,
    state: JobState,
    offset: number,
    search: string | undefined,
  ): Promise<JobListing> {
    const limit = 50;
    const start = Number.isSafeInteger(offset) && offset > 0 ? offset : 0;
    const term = search?.trim() === '' ? undefined : search?.trim();
    if (term === undefined) {
      const jobs = await listJobs(driver, { queue, state, limit: limit + 1, offset: start });
      return { state, jobs: jobs.slice(0, limit), offset: start, limit, hasMore: jobs.length > limit };
    }
    const byId = driver.capabilities.lookup
      ? await lookupJob(driver, term, { queue })
      : await driver.deadLetters.get(term).then((e) => (e === undefined || e.queue !== queue ? undefined : deadLetterJobInfo(e)));
    if (byId !== undefined)
      return { state: byId.state, jobs: [byId], offset: 0, limit, hasMore: false, search: term, note: `job ${term}, ${byId.state}` };
    const scanned = await listJobs(driver, { queue, state, limit: NAME_SCAN, offset: 0 });
    const matches = scanned.filter((job) => job.name === term);
    return {
      state,
      jobs: matches.slice(start, start + limit),
      offset: start,
      limit,
      hasMore: matches.length > start + limit,
      search: term,
      note: `${matches.length} ${state} job${matches.length === 1 ? '' : 's'} named ${term} among the first ${scanned.length}${scanned.length === NAME_SCAN ? ' (the name search looks no further)' : ''}`,
    };
  }

  app.notFound((c) => c.html(page(view, 'Not found', html`<h1>Not found</h1><p>${c.req.path}</p>`), 404));
  app.onError((error, c) => {
    if (error instanceof NotFound) return c.html(page(view, 'Not found', html`<h1>Not found</h1><p>${error.message}</p>`), 404);
    if (isQueueError(error, 'UNSUPPORTED') || isQueueError(error, 'INVALID_ARGUMENT')) {
      return c.html(page(view, 'Refused', html`<h1>Refused</h1><p>${maskSensitiveText(error.message)}</p>`), 400);
    }
    return c.html(page(view, 'Error', html`<h1>Something failed</h1><pre>${maskSensitiveText(describeError(error))}</pre>`), 500);
  });

  return async (request) => app.fetch(request);
}
