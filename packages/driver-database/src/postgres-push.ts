import type { JobEnvelope, PushResult } from '@queuekit/core';
import { encodeEnvelope } from '@queuekit/core/driver';
import { assertMessageSize } from './message-size.js';
import { assertQueue } from './rows.js';

/**
 * Separates the bodies in the push statement's $6. An encoded envelope is JSON.stringify output,
 * which never holds a raw line break (one inside a string is written `\n`), so the server splits
 * $6 back into exactly one body per envelope.
 */
const BODY_SEPARATOR = '\n';

/** The parameters of the push statement ($1…$6, $8), one entry per envelope in push order. */
export interface PushColumns {
  readonly ids: string[];
  readonly queues: string[];
  readonly priorities: number[];
  /** Delay from the server's now(), in ms. */
  readonly delays: number[];
  readonly uniqueKeys: (string | null)[];
  /**
   * The encoded envelopes joined by BODY_SEPARATOR: one text instead of a text[] whose array
   * literal would escape every quote of every body on the way out and unescape it on the server.
   */
  readonly bodies: string;
  readonly groups: (string | null)[];
  /** Whether two envelopes share an id, or a unique key in one queue (see `pushFresh`). */
  readonly repeats: boolean;
}

/**
 * Checks and encodes `envelopes` into the push statement's parameters; InvalidArgumentError or
 * PayloadTooLargeError naming the first that is wrong, before anything is sent.
 */
export function pushColumns(envelopes: readonly JobEnvelope[], maxMessageBytes: number): PushColumns {
  const now = Date.now();
  const ids: string[] = [];
  const queues: string[] = [];
  const priorities: number[] = [];
  const delays: number[] = [];
  const uniqueKeys: (string | null)[] = [];
  const bodies: string[] = [];
  const groups: (string | null)[] = [];
  const seenIds = new Set<string>();
  // A queue name holds no line break (see isValidQueueName), so queue + '\n' + key names one key.
  const seenKeys = new Set<string>();
  let repeats = false;
  for (const envelope of envelopes) {
    assertQueue('postgres', envelope.queue);
    ids.push(envelope.id);
    queues.push(envelope.queue);
    priorities.push(envelope.priority);
    // The producer's clock only decides the delay; the due time itself is the server's now() + delay.
    delays.push(Math.max(0, envelope.availableAt - now));
    uniqueKeys.push(envelope.uniqueKey ?? null);
    groups.push(envelope.group ?? null);
    const body = encodeEnvelope(envelope);
    assertMessageSize('postgres', envelope.id, body, maxMessageBytes);
    bodies.push(body);
    if (seenIds.has(envelope.id)) repeats = true;
    seenIds.add(envelope.id);
    if (envelope.uniqueKey !== undefined) {
      const key = `${envelope.queue}\n${envelope.uniqueKey}`;
      if (seenKeys.has(key)) repeats = true;
      seenKeys.add(key);
    }
  }
  return { ids, queues, priorities, delays, uniqueKeys, bodies: bodies.join(BODY_SEPARATOR), groups, repeats };
}

/**
 * Pushed and skipped ids in push order, from what the push statement returned: `stored` is null
 * when it stored every envelope (so no id repeats), else the ids it stored. An id the statement
 * stored counts as pushed once: a repeat of it in the same push was skipped by ON CONFLICT, as a
 * repeat in a later push is.
 */
export function splitStored(ids: readonly string[], stored: readonly string[] | null): PushResult {
  if (stored === null) return { pushed: [...ids], skipped: [] };
  const kept = new Set(stored);
  const pushed: string[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    if (kept.has(id) && !seen.has(id)) pushed.push(id);
    else skipped.push(id);
    seen.add(id);
  }
  return { pushed, skipped };
}
