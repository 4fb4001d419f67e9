import type { JobEnvelope, PushResult } from '@queuekit/core';
import { encodeEnvelope } from '@queuekit/core/driver';
import { assertMessageSize } from './message-size.js';
import { assertQueue } from './rows.js';
import { registerLanes } from './sqlite-group-claims.js';
import type { SqliteStatements } from './sqlite-statements.js';

/**
 * The bodies of a push, encoded and checked before the transaction opens: a bad queue name or an
 * oversized envelope refuses the whole push with nothing stored.
 */
export function encodePush(envelopes: readonly JobEnvelope[], maxMessageBytes: number): string[] {
  const bodies: string[] = [];
  for (const envelope of envelopes) {
    assertQueue('sqlite', envelope.queue);
    const body = encodeEnvelope(envelope);
    assertMessageSize('sqlite', envelope.id, body, maxMessageBytes);
    bodies.push(body);
  }
  return bodies;
}

/**
 * Stores `envelopes` (with their `bodies` from encodePush) in one transaction; an id or a unique key
 * already held is skipped. Returns the result and the queues that got jobs (to wake their waiters).
 */
export function pushJobs(
  db: SqliteStatements,
  envelopes: readonly JobEnvelope[],
  bodies: readonly string[],
): PushResult & { readonly queues: ReadonlySet<string> } {
  const insert = db.get('push');
  const now = Date.now();
  const pushed: string[] = [];
  const skipped: string[] = [];
  const queues = new Set<string>();
  db.immediate(() => {
    envelopes.forEach((envelope, index) => {
      const info = insert.run({
        job_id: envelope.id,
        queue: envelope.queue,
        priority: envelope.priority,
        available_at: Math.max(now, Math.round(envelope.availableAt)),
        unique_key: envelope.uniqueKey ?? null,
        created_at: now,
        body: bodies[index],
        group_key: envelope.group ?? null,
      });
      if (info.changes === 1) {
        if (envelope.group !== undefined) registerLanes(db, envelope.queue, envelope.group);
        pushed.push(envelope.id);
        queues.add(envelope.queue);
      } else {
        skipped.push(envelope.id);
      }
    });
  });
  return { pushed, skipped, queues };
}
