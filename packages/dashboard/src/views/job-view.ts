import { type DriverCapabilities, type JobEnvelope, type JobInfo, maskSensitive, maskSensitiveText } from '@queuekit/core';
import { html } from 'hono/html';
import { actionForm, type Html, href, page, type ViewContext, when } from './layout.js';

/** States whose jobs can still be cancelled. */
const CANCELLABLE = new Set(['waiting', 'delayed', 'active']);

/** What the job page shows. */
export interface JobModel {
  readonly connection: string;
  readonly job: JobInfo;
  readonly capabilities: DriverCapabilities;
  /** The undecodable body of a poison dead letter. */
  readonly raw?: string | undefined;
}

/**
 * A job in any state: envelope, payload (sensitive keys masked as the logger masks them),
 * attempts, progress, result or error with stack, follow-ups, timestamps, lease, trace id; retry
 * (failed) or cancel (waiting, delayed, active, where the driver can).
 */
export function jobPage(view: ViewContext, model: JobModel, flash?: string): Html {
  const { connection, job, capabilities } = model;
  const e = job.envelope;
  const { payload, ...envelopeRest } = e ?? { payload: undefined };
  const jobHref = href(view, 'connections', connection, 'jobs', job.id);
  const actions: (Html | '')[] = [];
  if (job.state === 'failed')
    actions.push(actionForm(view, `${href(view, 'connections', connection, 'dead', job.id)}/retry`, 'Retry this job'));
  if (capabilities.cancel && CANCELLABLE.has(job.state)) {
    actions.push(actionForm(view, `${jobHref}/cancel`, 'Cancel this job', { danger: true, fields: { queue: job.queue } }));
  }
  return page(
    view,
    `Job ${job.id}`,
    html`<h1>Job ${job.id} <span class="badge ${job.state === 'failed' ? 'bad' : ''}" data-state="${job.state}">${job.state}</span></h1>
<div class="card"><dl class="grid">
<dt>Name</dt><dd>${job.name ?? '(undecodable body)'}</dd>
<dt>Queue</dt><dd><a href="${href(view, 'connections', connection, 'queues', job.queue)}">${job.queue}</a> on ${connection}</dd>
<dt>Attempts</dt><dd>${job.attempts}${e === undefined ? '' : ` of ${e.maxAttempts}`}</dd>
${job.deadLetterReason === undefined ? '' : html`<dt>Dead-letter reason</dt><dd>${job.deadLetterReason}</dd>`}
<dt>Created</dt><dd>${when(job.createdAt)}</dd>
<dt>Available</dt><dd>${when(job.availableAt)}</dd>
<dt>Started</dt><dd>${when(job.startedAt)}</dd>
<dt>Finished</dt><dd>${when(job.finishedAt)}</dd>
${job.lease === undefined ? '' : html`<dt>Lease</dt><dd data-lease>${job.lease.holder ?? 'unknown holder'}, until ${when(job.lease.expiresAt)}</dd>`}
<dt>Trace id</dt><dd data-trace>${traceId(e?.trace) ?? '-'}</dd>
${e?.parent === undefined ? '' : html`<dt>Parent</dt><dd>${e.parent.name} ${e.parent.id} (${e.parent.status})</dd>`}
</dl>
${actions.length > 0 ? html`<p>${actions}</p>` : ''}</div>
${job.progress === undefined ? '' : html`<div class="card"><h2>Progress</h2><pre data-progress>${maskedJson(job.progress)}</pre></div>`}
${job.result === undefined ? '' : html`<div class="card"><h2>Result</h2><pre data-result>${maskedJson(job.result)}</pre></div>`}
${
  job.lastError === undefined
    ? ''
    : html`<div class="card"><h2>${job.state === 'failed' ? 'Error' : 'Last error'}</h2><p><strong>${job.lastError.name}</strong>${job.lastError.code === undefined ? '' : ` (${job.lastError.code})`}: ${maskSensitiveText(job.lastError.message)}</p>
${job.lastError.stack === undefined ? '' : html`<pre data-stack>${maskSensitiveText(job.lastError.stack)}</pre>`}</div>`
}
<div class="card"><h2>Payload</h2><pre data-payload>${e === undefined ? maskSensitiveText(model.raw ?? '(not kept)') : maskedJson(payload)}</pre></div>
${e === undefined ? '' : followUps(e.callbacks)}
${e === undefined ? '' : html`<div class="card"><h2>Envelope</h2><pre data-envelope>${maskedJson(envelopeRest)}</pre></div>`}`,
    { flash },
  );
}

/** JSON for people, with sensitive keys masked as the logger masks them. */
export function maskedJson(value: unknown): string {
  return JSON.stringify(maskSensitive(value), null, 2) ?? 'undefined';
}

function followUps(callbacks: JobEnvelope['callbacks']): Html {
  const kinds = [
    ['then', callbacks.then],
    ['catch', callbacks.catch],
    ['finally', callbacks.finally],
  ] as const;
  const total = kinds.reduce((n, [, list]) => n + list.length, 0);
  return html`<div class="card"><h2>Follow-ups</h2>${
    total === 0
      ? html`<p class="meta">None.</p>`
      : html`<table><thead><tr><th>When</th><th>Job</th><th>Queue</th><th>Its own follow-ups (chain)</th></tr></thead><tbody>${kinds.map(
          ([kind, list]) =>
            list.map(
              (d) =>
                html`<tr data-follow-up="${kind}"><td>${kind}</td><td>${d.name}</td><td>${d.queue}</td><td>${d.callbacks.then.length + d.callbacks.catch.length + d.callbacks.finally.length}</td></tr>`,
            ),
        )}</tbody></table>`
  }</div>`;
}

/** The trace id of a W3C `traceparent` carried in the envelope, if any. */
export function traceId(trace: Readonly<Record<string, string>> | undefined): string | undefined {
  const parent = trace?.traceparent;
  if (parent === undefined) return undefined;
  return /^[0-9a-f]{2}-([0-9a-f]{32})-/.exec(parent)?.[1];
}
