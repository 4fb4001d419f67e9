import { createEnvelope, type JobEnvelope, type JobFailure } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisDriver, queueKeys, type RedisDriver } from '../src/index.js';
import { deletePrefix, REDIS_URL, randomPrefix, randomQueue } from './helpers.js';

const opened: RedisDriver[] = [];
const prefixes: string[] = [];

function driver(keyPrefix = randomPrefix()): RedisDriver {
  prefixes.push(keyPrefix);
  const created = createRedisDriver({ connection: REDIS_URL, keyPrefix });
  opened.push(created);
  return created;
}

function job(queue: string, group?: string): JobEnvelope {
  return createEnvelope({ name: 'grouped', queue, payload: { group: group ?? null }, ...(group === undefined ? {} : { group }) });
}

function failure(): JobFailure {
  const now = Date.now();
  return { reason: 'failed', error: { name: 'Error', message: 'boom' }, attempts: 1, firstFailedAt: now, failedAt: now };
}

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((d) => d.close()));
  await Promise.all(prefixes.splice(0).map(deletePrefix));
});

describe('job groups (redis specifics)', () => {
  it('a queue that never had a grouped job keeps no group keys, whatever claims it', async () => {
    const d = driver();
    const queue = randomQueue();
    const jobs = [job(queue), job(queue), job(queue)];
    await d.push(jobs);
    const plain = await d.reserve([queue], { leaseMs: 30_000, waitMs: 0 });
    const grouped = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 2, groupConcurrency: 1 });
    expect(plain?.id).toBe(jobs[0]!.id);
    // The ungrouped jobs are one lane, with no limit: a grouped claim takes them in order.
    expect(grouped.map((r) => r.id)).toEqual([jobs[1]!.id, jobs[2]!.id]);
    await d.release(plain!, { delayMs: 0 });
    await d.giveBack(grouped);
    const base = queueKeys(d.keyPrefix, queue).jobPrefix.slice(0, -2);
    const keys = await d.client.keys(`${base}g*`);
    expect(keys).toEqual([]);
  });

  it('a queue whose first grouped job comes after ungrouped ones hands those out in their own turn', async () => {
    const d = driver();
    const queue = randomQueue();
    const ungrouped = [job(queue), job(queue)];
    await d.push(ungrouped);
    const grouped = job(queue, 'g');
    await d.push([grouped]);
    const claimed = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 3, groupConcurrency: 1 });
    expect(claimed.map((r) => r.id).sort()).toEqual([...ungrouped, grouped].map((e) => e.id).sort());
  });

  it('lanes left empty leave the turns once a claim walks past them, and hand out jobs pushed to them meanwhile', async () => {
    const d = driver();
    const queue = randomQueue();
    const ring = `${queueKeys(d.keyPrefix, queue).jobPrefix.slice(0, -2)}gring`;
    const first = Array.from({ length: 30 }, (_, i) => job(queue, `g${i}`));
    await d.push(first);
    const claimed = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 30, groupConcurrency: 1 });
    expect(claimed.map((r) => r.id).sort()).toEqual(first.map((e) => e.id).sort());
    for (const reservation of claimed) await d.ack(reservation);
    // A lane its last job left is kept until a claim reaches it: the claim does not check every lane it serves.
    expect(await d.client.zcard(ring)).toBe(30);
    const again = job(queue, 'g7');
    await d.push([again]);
    const next = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 5, groupConcurrency: 1 });
    expect(next.map((r) => r.id)).toEqual([again.id]);
    await d.ack(next[0]!);
    expect(await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 5, groupConcurrency: 1 })).toEqual([]);
    expect(await d.client.zcard(ring)).toBe(0);
  });

  it('a grouped claim skips jobs a claim without groups took, and counts their leases against the group', async () => {
    const d = driver();
    const queue = randomQueue();
    const jobs = [job(queue, 'a'), job(queue, 'a'), job(queue, 'b')];
    await d.push(jobs);
    const plain = await d.reserve([queue], { leaseMs: 30_000, waitMs: 0 });
    expect(plain?.id).toBe(jobs[0]!.id);
    const limited = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 3, groupConcurrency: 1 });
    expect(limited.map((r) => r.id)).toEqual([jobs[2]!.id]);
    const next = await d.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 3, groupConcurrency: 2 });
    expect(next.map((r) => r.id)).toEqual([jobs[1]!.id]);
    expect(await d.stats(queue)).toMatchObject({ ready: 0, reserved: 3 });
  });

  it('a grouped job retried from the dead-letter store is claimed in its group again', async () => {
    const d = driver();
    const queue = randomQueue();
    const grouped = job(queue, 'g');
    await d.push([grouped]);
    const first = await d.reserve([queue], { leaseMs: 30_000, waitMs: 0, groupConcurrency: 1 });
    await d.deadLetter(first!, failure());
    expect(await d.deadLetters.retry(grouped.id)).toBe(true);
    const again = await d.reserve([queue], { leaseMs: 30_000, waitMs: 0, groupConcurrency: 1 });
    expect(again?.id).toBe(grouped.id);
    expect(again?.envelope?.group).toBe('g');
    expect(await d.reserve([queue], { leaseMs: 30_000, waitMs: 0, groupConcurrency: 1 })).toBeUndefined();
  });

  it('a grouped reserve waiting while its group is at the limit is woken by the ack that frees it', async () => {
    const prefix = randomPrefix();
    const holder = driver(prefix);
    const waiter = driver(prefix);
    const queue = randomQueue();
    const jobs = [job(queue, 'g'), job(queue, 'g')];
    await holder.push(jobs);
    const held = await holder.reserve([queue], { leaseMs: 60_000, waitMs: 0, groupConcurrency: 1 });
    expect(held?.id).toBe(jobs[0]!.id);
    // The lease outlasts the wait: only the ack can let the waiter have the group's next job.
    // The wait is cut short before the blocking connection would look again on its own (every 2 s),
    // well after the ack: a waiter the ack did not wake gets nothing.
    const waiting = waiter.reserve([queue], { leaseMs: 30_000, waitMs: 60_000, groupConcurrency: 1, signal: AbortSignal.timeout(1_500) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await holder.ack(held!);
    expect((await waiting)?.id).toBe(jobs[1]!.id);
  });

  it('refuses a groupConcurrency below 1 or not an integer, naming it', async () => {
    const d = driver();
    const queue = randomQueue();
    await expect(d.reserve([queue], { leaseMs: 1_000, waitMs: 0, groupConcurrency: 0 })).rejects.toThrow(/groupConcurrency/);
    await expect(d.claim([queue], { leaseMs: 1_000, waitMs: 0, max: 2, groupConcurrency: 1.5 })).rejects.toThrow(/groupConcurrency/);
    await expect(d.ackAndClaim([], [queue], { leaseMs: 1_000, max: 1, groupConcurrency: -1 })).rejects.toThrow(/groupConcurrency/);
  });
});
