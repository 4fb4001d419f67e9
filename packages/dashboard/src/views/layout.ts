import { formatDuration } from '@queuekit/core';
import { html } from 'hono/html';
import { CSRF_FIELD } from '../security.js';

/** Markup built with hono's `html` template, which escapes every interpolated string. */
export type Html = ReturnType<typeof html>;

/** What every view needs to know about the dashboard serving it. */
export interface ViewContext {
  /** Path prefix of every link (no trailing slash). */
  readonly base: string;
  /** CSRF token every form carries. */
  readonly csrf: string;
  /** True when actions are hidden and refused. */
  readonly readOnly: boolean;
  /** How often live parts refresh, in ms. */
  readonly refreshMs: number;
}

/** The path of a dashboard page under the mount point; every segment is encoded. */
export function href(view: ViewContext, ...segments: readonly string[]): string {
  return `${view.base}/${segments.map(encodeURIComponent).join('/')}`;
}

/** A whole page. */
export function page(view: ViewContext, title: string, body: Html, options: { flash?: string | undefined } = {}): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}'>
<title>${title} · queuekit</title>
<link rel="stylesheet" href="${view.base}/assets/dashboard.css">
<script src="${view.base}/assets/htmx.min.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="${view.base}/">queuekit</a>
  <nav><a href="${view.base}/">Overview</a><a href="${view.base}/schedules">Schedules</a><a href="${view.base}/api/health">health JSON</a></nav>
  <span class="right">${view.readOnly ? html`<span class="badge" data-read-only>read-only</span>` : ''}</span>
</header>
<main>
${options.flash !== undefined ? html`<div class="flash" role="status">${options.flash}</div>` : ''}
${body}
</main>
</body>
</html>`;
}

/** A POST form with the CSRF token; nothing in read-only mode. */
export function actionForm(
  view: ViewContext,
  action: string,
  label: string,
  options: { danger?: boolean; fields?: Record<string, string> } = {},
): Html | '' {
  if (view.readOnly) return '';
  const fields = Object.entries(options.fields ?? {});
  return html`<form class="inline" method="post" action="${action}">
<input type="hidden" name="${CSRF_FIELD}" value="${view.csrf}">
${fields.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<button type="submit" class="${options.danger === true ? 'danger' : 'primary'}">${label}</button>
</form>`;
}

/** An epoch-ms time as ISO 8601 with how long ago (or until) it is. */
export function when(at: number | null | undefined, now = Date.now()): Html | string {
  if (at === null || at === undefined) return '-';
  const delta = now - at;
  const relative = delta >= 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(-delta)}`;
  return html`<time datetime="${new Date(at).toISOString()}" title="${new Date(at).toISOString()}">${new Date(at).toISOString().replace('T', ' ').slice(0, 19)} (${relative})</time>`;
}

/** A duration in ms for people, `-` when unknown. */
export function duration(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : formatDuration(ms);
}

/** Bars of counts per bucket, oldest first, as inline SVG (no chart library, nothing fetched). */
export function sparkline(values: readonly number[], label: string): Html {
  const max = Math.max(1, ...values);
  const width = 2;
  const height = 22;
  return html`<svg class="spark" role="img" aria-label="${label}" width="${values.length * width}" height="${height}" viewBox="0 0 ${values.length * width} ${height}">${values.map(
    (v, i) => {
      const h = v === 0 ? 0 : Math.max(1, Math.round((v / max) * height));
      return html`<rect x="${i * width}" y="${height - h}" width="${width - 0.4}" height="${h}"></rect>`;
    },
  )}</svg>`;
}
