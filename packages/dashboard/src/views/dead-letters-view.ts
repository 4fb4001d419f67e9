import { type DeadLetterEntry, maskSensitiveText } from '@queuekit/core';
import { html } from 'hono/html';
import type { DeadLetterGroup, DeadLetterGrouping } from '../dead-letter-groups.js';
import { actionForm, type Html, href, page, type ViewContext, when } from './layout.js';

/** Dead letters of a connection grouped by error message, with bulk actions per group. */
export function deadLettersPage(
  view: ViewContext,
  connection: string,
  queue: string | undefined,
  grouping: DeadLetterGrouping,
  flash?: string,
): Html {
  const query = queue === undefined ? '' : `?queue=${encodeURIComponent(queue)}`;
  return page(
    view,
    `Dead letters on ${connection}`,
    html`<h1>Dead letters <span class="meta">on ${connection}${queue === undefined ? '' : ` / ${queue}`}</span></h1>
<div class="card">
<p class="meta" data-total="${grouping.total}">${grouping.total} dead letter${grouping.total === 1 ? '' : 's'}${grouping.scanned < grouping.total ? `; groups built from the ${grouping.scanned} most recent` : ''}.</p>
${
  grouping.groups.length === 0
    ? html`<p>No dead letters.</p>`
    : html`<table><thead><tr><th>Error message</th><th class="num">Jobs</th><th>Queues</th><th>Job names</th><th>Last failed</th><th></th></tr></thead><tbody>
${grouping.groups.map((g) => groupRow(view, connection, g, query))}</tbody></table>`
}
</div>`,
    { flash },
  );
}

function groupRow(view: ViewContext, connection: string, g: DeadLetterGroup, query: string): Html {
  const groupHref = href(view, 'connections', connection, 'dead', 'groups', g.key);
  return html`<tr data-group="${g.key}">
<td>${maskSensitiveText(g.message)}</td><td class="num" data-count="group">${g.count}</td><td>${g.queues.join(', ')}</td><td>${g.names.join(', ')}</td><td>${when(g.lastFailedAt)}</td>
<td><a href="${groupHref}${query}">jobs</a>${view.readOnly ? '' : html` · <a href="${groupHref}${query}${query === '' ? '?' : '&'}action=retry" data-action="retry-group">retry…</a> · <a href="${groupHref}${query}${query === '' ? '?' : '&'}action=purge" data-action="purge-group">purge…</a>`}</td></tr>`;
}

/** A bulk action on a group the page confirms after showing its dry-run count. */
export type GroupAction = 'retry' | 'purge';

/** A group's entries, and, with `action=retry` or `action=purge`, the dry-run count and the confirmation. */
export function groupPage(
  view: ViewContext,
  connection: string,
  queue: string | undefined,
  group: DeadLetterGroup,
  entries: readonly DeadLetterEntry[],
  confirm: GroupAction | undefined,
): Html {
  return page(
    view,
    'Dead-letter group',
    html`<h1>Dead letters failing with <q>${maskSensitiveText(group.message)}</q></h1>
${confirm === undefined ? '' : confirmation(view, connection, queue, group, confirm)}
<div class="card"><table><thead><tr><th>Job</th><th>Name</th><th>Queue</th><th>Reason</th><th class="num">Attempts</th><th>Failed</th></tr></thead><tbody>
${entries.map(
  (e) =>
    html`<tr><td><a href="${href(view, 'connections', connection, 'dead', e.id)}">${e.id}</a></td><td>${e.name ?? '(poison)'}</td><td>${e.queue}</td><td>${e.reason}</td><td class="num">${e.attempts}</td><td>${when(e.failedAt)}</td></tr>`,
)}</tbody></table>${group.count > entries.length ? html`<p class="meta">${group.count - entries.length} more not listed.</p>` : ''}</div>`,
  );
}

function confirmation(view: ViewContext, connection: string, queue: string | undefined, group: DeadLetterGroup, action: GroupAction): Html {
  const target = `${href(view, 'connections', connection, 'dead', 'groups', group.key)}/${action}`;
  const fields = { confirm: 'yes', ...(queue === undefined ? {} : { queue }) };
  const cancel = html`<a class="button" href="${href(view, 'connections', connection, 'dead')}${queue === undefined ? '' : `?queue=${encodeURIComponent(queue)}`}">Cancel</a>`;
  if (action === 'purge') {
    return html`<div class="card"><p data-dry-run="${group.count}">Dry run: <strong>${group.count}</strong> dead letter${group.count === 1 ? '' : 's'} would be deleted for good${group.poison > 0 ? html` (${group.poison} of them undecodable bodies)` : ''}.</p>
${actionForm(view, target, `Purge ${group.count}`, { fields, danger: true })}
${cancel}</div>`;
  }
  return html`<div class="card"><p data-dry-run="${group.retryableIds.length}">Dry run: <strong>${group.retryableIds.length}</strong> of ${group.count} would be moved back to their queue as fresh jobs${group.poison > 0 ? html` (${group.poison} undecodable bodies cannot be retried)` : ''}.</p>
${actionForm(view, target, `Retry ${group.retryableIds.length}`, { fields })}
${cancel}</div>`;
}
