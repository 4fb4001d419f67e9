import type { DriverCapabilities, JobInfo, JobState, QueueStats } from '@queuekit/core';
import { html } from 'hono/html';
import { actionForm, duration, type Html, href, page, type ViewContext, when } from './layout.js';

/** One page of a queue's jobs in one state. */
export interface JobListing {
  readonly state: JobState;
  readonly jobs: readonly JobInfo[];
  readonly offset: number;
  readonly limit: number;
  /** True when a next page may hold more. */
  readonly hasMore: boolean;
  /** The search by id or name that produced the list, if any. */
  readonly search?: string | undefined;
  /** What the list is and is not (e.g. how far a name search looked). */
  readonly note?: string | undefined;
}

/** What the queue page shows. */
export interface QueueModel {
  readonly connection: string;
  readonly queue: string;
  readonly stats: QueueStats;
  readonly capabilities?: DriverCapabilities;
  readonly listing?: JobListing;
}

/** The states a queue page offers tabs for, given what the driver declares. */
export function statesOf(capabilities: DriverCapabilities): JobState[] {
  if (!capabilities.lookup) return ['failed'];
  const states: JobState[] = ['waiting', 'delayed', 'active'];
  if (capabilities.retention) states.push('completed');
  states.push('failed');
  if (capabilities.cancel) states.push('cancelled');
  return states;
}

/** A queue: its counts (live), and its actions. */
export function queuePage(view: ViewContext, model: QueueModel, flash?: string): Html {
  const { connection, queue } = model;
  return page(
    view,
    `${queue} on ${connection}`,
    html`<h1>Queue ${queue} <span class="meta">on ${connection}</span></h1>
${queueCounts(view, model)}
${model.listing === undefined || model.capabilities === undefined ? '' : jobList(view, model, model.capabilities, model.listing)}
<div class="card"><h2>Actions</h2>
${model.capabilities?.pause === true ? pauseControl(view, model) : ''}
<p><a href="${href(view, 'connections', connection, 'dead')}?queue=${encodeURIComponent(queue)}">Dead letters of this queue</a></p>
${
  view.readOnly
    ? html`<p class="meta">Read-only dashboard: actions are hidden.</p>`
    : html`<p><a class="button danger" href="${href(view, 'connections', connection, 'queues', queue, 'purge')}" data-action="purge">Purge ready and delayed jobs…</a></p>`
}
</div>`,
    { flash },
  );
}

/** The counts of a queue, refreshing themselves. */
export function queueCounts(view: ViewContext, model: QueueModel): Html {
  const s = model.stats;
  const now = Date.now();
  return html`<div class="card" id="counts" hx-get="${href(view, 'connections', model.connection, 'queues', model.queue, 'counts')}" hx-trigger="every ${Math.max(1, Math.round(view.refreshMs / 1000))}s" hx-swap="outerHTML">
${s.paused === true ? html`<p><span class="badge warning" data-paused>paused</span> workers take no job from this queue until it is resumed.</p>` : ''}
<table><thead><tr><th class="num">Ready</th><th class="num">Delayed</th><th class="num">Active</th><th class="num">Dead</th><th class="num">Oldest ready</th></tr></thead>
<tbody><tr data-queue="${model.connection}/${model.queue}"><td class="num" data-count="ready">${s.ready}</td><td class="num" data-count="delayed">${s.delayed}</td><td class="num" data-count="reserved">${s.reserved}</td><td class="num" data-count="dead">${s.dead}</td><td class="num">${s.oldestReadyAt === undefined ? '-' : duration(now - s.oldestReadyAt)}</td></tr></tbody></table>
</div>`;
}

/** The confirmation before a purge, with what it would delete (a dry run). */
export function purgeConfirmPage(view: ViewContext, model: QueueModel): Html {
  const { connection, queue, stats } = model;
  const back = href(view, 'connections', connection, 'queues', queue);
  return page(
    view,
    `Purge ${queue}`,
    html`<h1>Purge queue ${queue} <span class="meta">on ${connection}</span></h1>
<div class="card"><p data-dry-run="${stats.ready + stats.delayed}">This deletes <strong>${stats.ready}</strong> ready and <strong>${stats.delayed}</strong> delayed jobs (${stats.ready + stats.delayed} in all, as counted now). Active jobs and dead letters stay.</p>
${actionForm(view, `${back}/purge`, 'Purge', { danger: true, fields: { confirm: 'yes' } })} <a class="button" href="${back}">Cancel</a></div>`,
  );
}

function pauseControl(view: ViewContext, model: QueueModel): Html {
  const base = href(view, 'connections', model.connection, 'queues', model.queue);
  if (view.readOnly) return html``;
  return html`<p>${
    model.stats.paused === true
      ? actionForm(view, `${base}/resume`, 'Resume the queue')
      : actionForm(view, `${base}/pause`, 'Pause the queue', { danger: true })
  }</p>`;
}

const COUNT_OF: Partial<Record<JobState, (s: QueueStats) => number | undefined>> = {
  waiting: (s) => s.ready,
  delayed: (s) => s.delayed,
  active: (s) => s.reserved,
  completed: (s) => s.completed,
  failed: (s) => s.dead,
};

function jobList(view: ViewContext, model: QueueModel, capabilities: DriverCapabilities, listing: JobListing): Html {
  const base = href(view, 'connections', model.connection, 'queues', model.queue);
  const page = (offset: number) =>
    `${base}?state=${listing.state}&offset=${offset}${listing.search === undefined ? '' : `&q=${encodeURIComponent(listing.search)}`}`;
  const timeOf = (job: JobInfo) =>
    job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled'
      ? job.finishedAt
      : job.state === 'active'
        ? job.startedAt
        : job.availableAt;
  return html`<div class="card" data-jobs="${listing.state}"><h2>Jobs</h2>
<p class="tabs">${statesOf(capabilities).map((state) => {
    const count = COUNT_OF[state]?.(model.stats);
    return html`<a href="${base}?state=${state}" class="${state === listing.state ? 'current' : ''}" data-tab="${state}">${state}${count === undefined ? '' : ` (${count})`}</a>`;
  })}</p>
<form method="get" action="${base}"><input type="hidden" name="state" value="${listing.state}"><input type="search" name="q" value="${listing.search ?? ''}" placeholder="job id or name" aria-label="search by id or name"> <button type="submit">Search</button></form>
${listing.note === undefined ? '' : html`<p class="meta">${listing.note}</p>`}
${
  listing.jobs.length === 0
    ? html`<p class="meta" data-empty>No ${listing.state} jobs${listing.search === undefined ? '' : ' match'}.</p>`
    : html`<table><thead><tr><th>Job</th><th>Name</th><th>State</th><th class="num">Attempts</th><th>When</th><th>Progress</th></tr></thead><tbody>
${listing.jobs.map(
  (job) =>
    html`<tr data-job="${job.id}"><td><a href="${href(view, 'connections', model.connection, 'jobs', job.id)}?queue=${encodeURIComponent(job.queue)}">${job.id}</a></td><td>${job.name ?? '(poison)'}</td><td>${job.state}</td><td class="num">${job.attempts}</td><td>${when(timeOf(job))}</td><td>${job.progress === undefined ? '' : JSON.stringify(job.progress).slice(0, 60)}</td></tr>`,
)}</tbody></table>`
}
<p>${listing.offset > 0 ? html`<a href="${page(Math.max(0, listing.offset - listing.limit))}" data-page="prev">← newer</a> ` : ''}${listing.hasMore ? html`<a href="${page(listing.offset + listing.limit)}" data-page="next">more →</a>` : ''}</p>
</div>`;
}
