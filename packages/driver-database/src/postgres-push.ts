import type { JobEnvelope, PushResult } from '@queuekit/core';
import { encodeEnvelope } from '@queuekit/core/driver';
import { assertMessageSize } from './message-size.js';
import { assertQueue } from './rows.js';

/** The column arrays of the push statement ($1…$6, $8), one entry per envelope in push order. */
export interface PushColumns {
  readonly ids: string[];
  readonly queues: string[];
  readonly priorities: number[];
  /** Delay from the server's now(), in ms. */
  readonly delays: number[];
  readonly uniqueKeys: (string | null)[];
  readonly bodies: string[];
  readonly groups: (string | null)[];
}

/**
 * Checks and encodes `envelopes` into the push statement's column arrays; InvalidArgumentError or
 * PayloadTooLargeError naming the first that is wrong, before anything is sent.
 */
export function pushColumns(envelopes: readonly JobEnvelope[], maxMessageBytes: number): PushColumns {
  const now = Date.now();
  const columns: PushColumns = { ids: [], queues: [], priorities: [], delays: [], uniqueKeys: [], bodies: [], groups: [] };
  for (const envelope of envelopes) {
    assertQueue('postgres', envelope.queue);
    columns.ids.push(envelope.id);
    columns.queues.push(envelope.queue);
    columns.priorities.push(envelope.priority);
    // The producer's clock only decides the delay; the due time itself is the server's now() + delay.
    columns.delays.push(Math.max(0, envelope.availableAt - now));
    columns.uniqueKeys.push(envelope.uniqueKey ?? null);
    columns.groups.push(envelope.group ?? null);
    const body = encodeEnvelope(envelope);
    assertMessageSize('postgres', envelope.id, body, maxMessageBytes);
    columns.bodies.push(body);
  }
  return columns;
}

/**
 * Pushed and skipped ids in push order. An id the statement stored counts as pushed once: a
 * repeat of it in the same push was skipped by ON CONFLICT, as a repeat in a later push is.
 */
export function splitStored(ids: readonly string[], stored: ReadonlySet<string>): PushResult {
  const pushed: string[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    if (stored.has(id) && !seen.has(id)) pushed.push(id);
    else skipped.push(id);
    seen.add(id);
  }
  return { pushed, skipped };
}
