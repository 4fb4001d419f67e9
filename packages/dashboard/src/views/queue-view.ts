import type { QueueStats } from '@queuekit/core';
import { html } from 'hono/html';
import { actionForm, duration, type Html, href, page, type ViewContext } from './layout.js';

/** What the queue page shows. */
export interface QueueModel {
  readonly connection: string;
  readonly queue: string;
  readonly stats: QueueStats;
}

/** A queue: its counts (live), and its actions. */
export function queuePage(view: ViewContext, model: QueueModel, flash?: string): Html {
  const { connection, queue } = model;
  return page(
    view,
    `${queue} on ${connection}`,
    html`<h1>Queue ${queue} <span class="meta">on ${connection}</span></h1>
${queueCounts(view, model)}
<div class="card"><h2>Actions</h2>
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
