import { createHash } from 'node:crypto';
import { type DeadLetterEntry, type DeadLetterStore, MAX_DEAD_LETTER_IDS } from '@queuekit/core';

/** Dead letters that failed with the same error message. */
export interface DeadLetterGroup {
  /** Stable key of the group (a hash of the message), used in links and forms instead of the message itself. */
  readonly key: string;
  /** The error message shared by the group (as stored; mask it before showing it). */
  readonly message: string;
  /** Entries in the group, among those scanned. */
  readonly count: number;
  /** Queues the entries came from. */
  readonly queues: readonly string[];
  /** Job names in the group (`(poison)` for undecodable bodies). */
  readonly names: readonly string[];
  /** Most recent failure in the group, epoch ms. */
  readonly lastFailedAt: number;
  /** Entries that cannot be retried (undecodable bodies). */
  readonly poison: number;
  /** Ids of the entries, most recently failed first. */
  readonly ids: readonly string[];
  /** Ids of the entries that can be retried (decodable bodies). */
  readonly retryableIds: readonly string[];
}

/** The groups found by one scan. */
export interface DeadLetterGrouping {
  /** Groups, largest first. */
  readonly groups: readonly DeadLetterGroup[];
  /** Entries scanned (the most recent first). */
  readonly scanned: number;
  /** Entries in the store matching the filter; more than `scanned` when the scan limit cut it short. */
  readonly total: number;
}

const PAGE = 200;

/** The key of a message's group. */
export function groupKey(message: string): string {
  return createHash('sha256').update(message).digest('hex').slice(0, 16);
}

/**
 * Groups the most recent `limit` dead letters (of `queue`, or all) by error message. The store
 * has no filter by message, so groups are built from a scan, and bulk actions act on what it found.
 */
export async function groupDeadLetters(store: DeadLetterStore, options: { queue?: string; limit: number }): Promise<DeadLetterGrouping> {
  const filter = options.queue === undefined ? {} : { queue: options.queue };
  const total = await store.count(filter);
  const entries: DeadLetterEntry[] = [];
  while (entries.length < options.limit) {
    const page = await store.list({ ...filter, limit: Math.min(PAGE, options.limit - entries.length), offset: entries.length });
    entries.push(...page);
    if (page.length === 0 || entries.length >= total) break;
  }
  const byKey = new Map<string, { message: string; entries: DeadLetterEntry[] }>();
  for (const entry of entries) {
    const key = groupKey(entry.error.message);
    const group = byKey.get(key) ?? { message: entry.error.message, entries: [] };
    group.entries.push(entry);
    byKey.set(key, group);
  }
  const groups = [...byKey.entries()].map(([key, g]) => ({
    key,
    message: g.message,
    count: g.entries.length,
    queues: [...new Set(g.entries.map((e) => e.queue))].sort(),
    names: [...new Set(g.entries.map((e) => e.name ?? '(poison)'))].sort(),
    lastFailedAt: Math.max(...g.entries.map((e) => e.failedAt)),
    poison: g.entries.filter((e) => e.envelope === undefined).length,
    ids: g.entries.map((e) => e.id),
    retryableIds: g.entries.filter((e) => e.envelope !== undefined).map((e) => e.id),
  }));
  groups.sort((a, b) => b.count - a.count || b.lastFailedAt - a.lastFailedAt);
  return { groups, scanned: entries.length, total };
}

/** What a bulk action on a group did. */
export interface GroupActionResult {
  /** Entries acted on. */
  readonly done: number;
  /** Entries skipped: undecodable bodies (retry) or entries already gone. */
  readonly skipped: number;
}

/** Retries every retryable entry of a group, one by one; poison bodies and vanished entries are skipped. */
export async function retryGroup(store: DeadLetterStore, group: DeadLetterGroup): Promise<GroupActionResult> {
  let done = 0;
  for (const id of group.retryableIds) if (await store.retry(id)) done += 1;
  return { done, skipped: group.count - done };
}

/** Deletes every entry of a group (poison bodies included), up to 1,000 ids per call; entries already gone are skipped. */
export async function purgeGroup(store: DeadLetterStore, group: DeadLetterGroup): Promise<GroupActionResult> {
  let done = 0;
  for (let start = 0; start < group.ids.length; start += MAX_DEAD_LETTER_IDS) {
    done += await store.purgeIds(group.ids.slice(start, start + MAX_DEAD_LETTER_IDS));
  }
  return { done, skipped: group.count - done };
}
