import { type ConnectionHealth, type DriverCapabilities, maskSensitiveText, type QueueHealth, type QueueStats } from '@queuekit/core';
import { html } from 'hono/html';
import type { QueueRates } from '../job-rate-recorder.js';
import type { OverviewModel, ScheduleStatus } from '../overview.js';
import { duration, type Html, href, page, sparkline, type ViewContext, when } from './layout.js';

/** The overview page: problems first, then every connection with its queues, then schedules. */
export function overviewPage(view: ViewContext, model: OverviewModel): Html {
  return page(view, 'Overview', overviewFragment(view, model));
}

/** The live part of the overview, which replaces itself every `refreshMs`. */
export function overviewFragment(view: ViewContext, model: OverviewModel): Html {
  const now = Date.parse(model.health.checkedAt);
  return html`<div id="overview" hx-get="${view.base}/fragments/overview" hx-trigger="every ${Math.max(1, Math.round(view.refreshMs / 1000))}s" hx-swap="outerHTML">
<h1>Overview <span class="badge ${model.health.status}" data-status>${model.health.status}</span> <span class="meta">checked ${when(now, now)}</span></h1>
${problemsCard(model)}
${model.health.connections.map((c) => connectionCard(view, c, model.capabilities[c.name], model.stats[c.name] ?? {}, model.rates?.[c.name] ?? null, now))}
${ratesNote(model)}
${model.schedules.length > 0 ? html`<div class="card"><h2>Schedules</h2>${schedulesTable(model.schedules, now)}</div>` : ''}
</div>`;
}

function problemsCard(model: OverviewModel): Html {
  if (model.problems.length === 0)
    return html`<div class="card" data-problems="0"><h2>Problems</h2><p class="meta">None: every connection is reachable and no threshold is exceeded.</p></div>`;
  return html`<div class="card" data-problems="${model.problems.length}"><h2>Problems</h2><ul class="problems">${model.problems.map(
    (p) =>
      html`<li><span class="badge ${p.severity}">${p.severity}</span> <strong>${p.connection}${p.queue === null ? '' : ` / ${p.queue}`}</strong>: ${maskSensitiveText(p.message)}</li>`,
  )}</ul></div>`;
}

function connectionCard(
  view: ViewContext,
  c: ConnectionHealth,
  capabilities: DriverCapabilities | undefined,
  stats: Readonly<Record<string, QueueStats>>,
  rates: Readonly<Record<string, QueueRates>> | null,
  now: number,
): Html {
  const workers = c.workers.count === null ? html`<span title="${c.workers.note ?? ''}">unknown</span>` : String(c.workers.count);
  return html`<div class="card" data-connection="${c.name}">
<h2>${c.name} <span class="meta">(${c.driver})${c.default ? ' default' : ''}</span> <span class="badge ${c.status}">${c.status}</span></h2>
${
  c.reachable
    ? html`<p class="meta">ping ${c.pingMs} ms · workers seen <span data-workers>${workers}</span>${capabilities === undefined ? '' : html` · ${capabilityText(capabilities)}`} · <a href="${href(view, 'connections', c.name, 'dead')}">dead letters</a></p>
<table>
<thead><tr><th>Queue</th><th class="num">Ready</th><th class="num">Delayed</th><th class="num">Active</th><th class="num">Completed</th><th class="num">Done 1h</th><th class="num">Dead</th><th class="num">Oldest ready</th><th>Throughput 1h</th><th class="num">Wait p50 / p95</th><th>Rate limit</th><th>Status</th></tr></thead>
<tbody>${c.queues.map((q) => queueRow(view, c.name, q, stats[q.name], rates?.[q.name] ?? null, now))}</tbody>
</table>`
    : html`<p class="meta" data-error>${maskSensitiveText(c.error ?? '')}</p>`
}
</div>`;
}

function capabilityText(c: DriverCapabilities): string {
  const parts = [`delay ${c.delay}`, `lease ${c.lease}`, c.priority ? 'priority' : 'no priority', `dead letters ${c.deadLetter}`];
  if (c.inline) parts.push('inline');
  return parts.join(', ');
}

function queueRow(
  view: ViewContext,
  connection: string,
  q: QueueHealth,
  stats: QueueStats | undefined,
  rates: QueueRates | null,
  now: number,
): Html {
  const rate =
    q.rateLimit === null
      ? '-'
      : `${q.rateLimit.used ?? '?'}/${q.rateLimit.limit} per ${duration(q.rateLimit.intervalMs)}${q.rateLimit.shared ? '' : ' (per process)'}`;
  return html`<tr data-queue="${connection}/${q.name}">
<td><a href="${href(view, 'connections', connection, 'queues', q.name)}">${q.name}</a></td>
<td class="num" data-count="ready">${q.ready}</td>
<td class="num" data-count="delayed">${q.delayed}</td>
<td class="num" data-count="reserved">${q.reserved}</td>
<td class="num" data-count="completed" title="completed jobs the backend keeps">${stats?.completed ?? '-'}</td>
<td class="num" data-count="done-1h" data-rates-source="${rates?.source ?? 'none'}">${rates === null ? '-' : rates.completed}</td>
<td class="num" data-count="dead">${q.dead > 0 ? html`<a href="${href(view, 'connections', connection, 'dead')}?queue=${encodeURIComponent(q.name)}">${q.dead}</a>` : '0'}</td>
<td class="num">${q.oldestReadyAt === null ? '-' : duration(now - q.oldestReadyAt)}</td>
<td>${rates === null ? '-' : html`${sparkline(rates.completedPerBucket, `completed per minute, ${q.name}`)} <span class="meta">${rates.failed > 0 ? `${rates.failed} failed` : ''}</span>${coverage(rates, now)}`}</td>
<td class="num">${rates === null ? '-' : `${duration(rates.waitP50Ms)} / ${duration(rates.waitP95Ms)}`}</td>
<td>${rate}</td>
<td>${q.problems.length > 0 ? html`<span class="badge degraded" title="${q.problems.join('; ')}">degraded</span>` : html`<span class="badge healthy">healthy</span>`}${stats?.paused === true ? html` <span class="badge warning" data-paused>paused</span>` : ''}</td>
</tr>`;
}

/** A mark on Done 1h when the numbers cover less than the hour: from when they count. */
function coverage(rates: QueueRates | null, now: number): Html | '' {
  if (rates === null) return '';
  const windowStart = now - rates.windowMs + rates.bucketMs;
  if (rates.since <= windowStart) return '';
  const text =
    rates.source === 'retained'
      ? rates.since >= now
        ? 'no completed job is kept from the last hour'
        : `the completed jobs kept reach back only to ${new Date(rates.since).toISOString()}`
      : `recorded only since ${new Date(rates.since).toISOString()}`;
  const shown = rates.since >= now ? 'none kept' : `covers the last ${duration(now - rates.since)}`;
  return html` <span class="meta" data-partial title="${text}">(${shown})</span>`;
}

function ratesNote(model: OverviewModel): Html {
  const sources = new Set(Object.values(model.rates ?? {}).flatMap((byQueue) => Object.values(byQueue).map((r) => r.source)));
  const parts: string[] = [];
  if (sources.has('retained'))
    parts.push(
      'Done 1h, throughput, wait and failures: the last hour, read from the completed jobs the backend keeps (bounded by its retention: a mark shows when they do not cover the hour); failed: dead letters of the hour still in the store; wait runs from when a job was due to the start of its last run.',
    );
  if (sources.has('observed'))
    parts.push(
      'Where the backend keeps no completed jobs: the last hour as measured by the workers this process observes (JobRateRecorder).',
    );
  if (model.rates === null || model.health.connections.some((c) => c.reachable && model.rates?.[c.name] === undefined))
    parts.push(
      'Throughput and wait times are not shown for backends that keep no completed jobs unless this process runs and observes their workers (JobRateRecorder).',
    );
  parts.push('Completed: the finished jobs a backend keeps, where it keeps them.');
  return html`<p class="meta" data-rates-note>${parts.join(' ')}</p>`;
}

/** Schedules with their last and next tick. */
export function schedulesTable(schedules: readonly ScheduleStatus[], now: number): Html {
  return html`<table data-schedules>
<thead><tr><th>Schedule</th><th>Cron</th><th>Zone</th><th>Connection</th><th title="the last tick fired, from the backend's ledger; else the expression's tick before now">Last tick</th><th>Outcome</th><th>Next tick</th></tr></thead>
<tbody>${schedules.map(
    (
      s,
    ) => html`<tr data-schedule="${s.name}"><td>${s.name}</td><td><code>${s.cron}</code></td><td>${s.timezone}</td><td>${s.connection}</td>
<td data-last-tick data-last-tick-from="${s.lastTickFrom}">${s.error === null ? lastTick(s, now) : html`<span class="badge bad">${s.error}</span>`}</td><td data-last-outcome>${s.lastOutcome ?? '-'}</td><td data-next-tick>${when(s.nextTickAt, now)}</td></tr>`,
  )}</tbody></table>`;
}

/** The last fired tick, or (marked so) the expression's tick before now when no ledger was read. */
function lastTick(s: ScheduleStatus, now: number): Html | string {
  if (s.lastTickFrom === 'ledger') return s.lastTickAt === null ? 'none fired yet' : when(s.lastTickAt, now);
  return html`${when(s.lastTickAt, now)} <span class="meta" title="no ledger read: the expression's tick before now">(by the expression)</span>`;
}

/** The schedules page. */
export function schedulesPage(view: ViewContext, schedules: readonly ScheduleStatus[], now: number): Html {
  return page(
    view,
    'Schedules',
    html`<h1>Schedules</h1><div class="card">${
      schedules.length === 0 ? html`<p class="meta">No schedules are configured for this dashboard.</p>` : schedulesTable(schedules, now)
    }<p class="meta">Previous tick: the expression's tick before now, not a record that it fired (the scheduler keeps none yet); the scheduler pushes each tick ahead as a delayed job, once across processes.</p></div>`,
  );
}
