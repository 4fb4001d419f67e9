import { createEnvelope, JobCancelledError, LeaseLostError, type QueueDriver, type Reservation } from '@queuekit/core';
import { completedRecord as record } from '@queuekit/driver-contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresDriver } from '../src/index.js';
import { DIALECTS, type Dialect } from './dialects.js';
import { DATABASE_URL, randomQueue } from './helpers.js';

async function claimNow(driver: QueueDriver, queue: string, max: number, holder?: string): Promise<Reservation[]> {
  const claim = driver.claim as NonNullable<QueueDriver['claim']>;
  return claim.call(driver, [queue], { leaseMs: 30_000, waitMs: 0, max, ...(holder === undefined ? {} : { holder }) });
}

async function completed(driver: QueueDriver, queue: string): Promise<number> {
  return (await driver.stats(queue)).completed ?? -1;
}

describe.each(DIALECTS)('$name: finished jobs, cancel, holder', ({ setup }) => {
  let dialect: Dialect;
  let queue: string;

  beforeEach(() => {
    dialect = setup();
    queue = randomQueue();
  });
  afterEach(async () => {
    await dialect.cleanup();
  });

  it('one ack at a time: the count bound is pruned now and then, keeping the newest count and a slack that is deleted at once', async () => {
    // count 20: a prune by count with a chance of 1 in 2 per store.
    const driver = dialect.open({ retention: { count: 20 } });
    await driver.push(Array.from({ length: 120 }, (_, i) => createEnvelope({ name: `job-${i}`, queue })));
    const seen: number[] = [];
    for (let i = 0; i < 120; i++) {
      const [reservation] = await claimNow(driver, queue, 1);
      await driver.ack(reservation as Reservation, { record: record(reservation as Reservation) });
      seen.push(await completed(driver, queue));
    }
    expect(seen.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const after = seen.slice(20);
    // Never below the bound; above it between prunes (100 stores without a prune, or with one
    // each, would each come with a chance of 2^-100); 20 more misses in a row: a chance of 1e-6.
    expect(Math.min(...after)).toBe(20);
    expect(Math.max(...after)).toBeGreaterThan(20);
    expect(Math.max(...after)).toBeLessThanOrEqual(40);
    const kept = await driver.listJobs({ queue, state: 'completed', limit: 1_000 });
    expect(kept).toHaveLength(seen[119] as number);
    expect(kept.slice(0, 20).map((info) => info.name)).toEqual(Array.from({ length: 20 }, (_, i) => `job-${119 - i}`));
  });

  it('ackAndClaim stores its records and prunes the queue in the same call; other queues keep theirs', async () => {
    const driver = dialect.open({ retention: { count: 5 } });
    const other = randomQueue();
    await driver.push([createEnvelope({ name: 'elsewhere', queue: other })]);
    const [elsewhere] = await claimNow(driver, other, 1);
    await driver.ack(elsewhere as Reservation, { record: record(elsewhere as Reservation) });
    await driver.push(Array.from({ length: 24 }, (_, i) => createEnvelope({ name: `job-${i}`, queue })));
    let held: readonly Reservation[] = await claimNow(driver, queue, 8);
    const ackAndClaim = driver.ackAndClaim as NonNullable<QueueDriver['ackAndClaim']>;
    while (held.length > 0) {
      const result = await ackAndClaim.call(driver, held, [queue], { leaseMs: 30_000, max: 8, records: held.map((r) => record(r)) });
      expect(result.leaseLost).toEqual([]);
      held = result.claimed;
      // Count 5 prunes on every store; a batch of 8 keeps only its newest 5.
      expect(await completed(driver, queue)).toBe(5);
    }
    expect(await completed(driver, other)).toBe(1);
  });

  it('retention false keeps no completed job but keeps a cancelled one, so its worker learns why its lease went', async () => {
    const driver = dialect.open({ retention: false });
    expect(driver.capabilities).toMatchObject({ retention: false, lookup: true, cancel: true });
    const [done, cancelled] = [createEnvelope({ name: 'done', queue }), createEnvelope({ name: 'cancelled', queue })];
    await driver.push([done, cancelled]);
    const [first, second] = await claimNow(driver, queue, 2);
    await driver.ack(first as Reservation, { record: record(first as Reservation) });
    expect(await driver.getJob(done.id)).toBeUndefined();
    expect(await driver.cancel(cancelled.id)).toBe('cancelled');
    expect(await driver.getJob(cancelled.id)).toMatchObject({ state: 'cancelled', name: 'cancelled', attempts: 0 });
    await expect(driver.extend(second as Reservation, 1_000)).rejects.toThrow(JobCancelledError);
    await expect(driver.setProgress(second as Reservation, '1')).rejects.toThrow(JobCancelledError);
    await expect(driver.deadLetter(second as Reservation, failure())).rejects.toThrow(JobCancelledError);
    expect(await driver.stats(queue)).not.toHaveProperty('completed');
  });

  it('cancel() of a dead-lettered or completed job says finished; of an unknown id not-found; a wrong queue is not searched', async () => {
    const driver = dialect.open();
    const [dead, done] = [createEnvelope({ name: 'dead', queue }), createEnvelope({ name: 'done', queue })];
    await driver.push([dead, done]);
    const [first, second] = await claimNow(driver, queue, 2);
    await driver.deadLetter(first as Reservation, failure());
    await driver.ack(second as Reservation, { record: record(second as Reservation) });
    expect(await driver.cancel(dead.id)).toBe('finished');
    expect(await driver.cancel(done.id, { queue })).toBe('finished');
    expect(await driver.cancel(done.id, { queue: randomQueue() })).toBe('not-found');
    expect(await driver.cancel('no-such-job')).toBe('not-found');
    expect(await driver.getJob(done.id)).toMatchObject({ state: 'completed', result: second?.id });
    await expect(driver.cancel('', {})).rejects.toThrow(/cancel: expected a job id/);
    await expect(driver.getJob('x', { queue: 'bad queue' })).rejects.toThrow(/invalid queue name/);
  });

  it('a cancelled active job keeps its holder, start time and progress in its record; its ack keeps no completed record', async () => {
    const driver = dialect.open();
    const envelope = createEnvelope({ name: 'long', queue });
    await driver.push([envelope]);
    const [reservation] = await claimNow(driver, queue, 1, 'host-a:1');
    await driver.setProgress(reservation as Reservation, JSON.stringify({ step: 3 }));
    const active = await driver.getJob(envelope.id);
    expect(active).toMatchObject({ state: 'active', progress: { step: 3 }, lease: { holder: 'host-a:1' } });
    expect(active?.startedAt).toBeGreaterThan(0);
    expect(await driver.cancel(envelope.id, { queue })).toBe('cancelled');
    const cancelled = await driver.getJob(envelope.id);
    expect(cancelled).toMatchObject({ state: 'cancelled', progress: { step: 3 }, startedAt: active?.startedAt });
    expect(cancelled?.finishedAt).toBeGreaterThanOrEqual(active?.startedAt ?? 0);
    await driver.ack(reservation as Reservation, { record: record(reservation as Reservation, 'late') });
    expect(await driver.getJob(envelope.id)).toMatchObject({ state: 'cancelled' });
    expect(await driver.extendMany([reservation as Reservation], 1_000)).toEqual(['cancelled']);
  });

  it('the holder given to claim and ackAndClaim is the one lookups show; a lost lease is not mistaken for a cancel', async () => {
    const driver = dialect.open();
    await driver.push([createEnvelope({ name: 'a', queue }), createEnvelope({ name: 'b', queue })]);
    const [a] = await claimNow(driver, queue, 1);
    expect((await driver.getJob((a as Reservation).id))?.lease).toMatchObject({ holder: undefined });
    const ackAndClaim = driver.ackAndClaim as NonNullable<QueueDriver['ackAndClaim']>;
    const { claimed } = await ackAndClaim.call(driver, [a as Reservation], [queue], { leaseMs: 50, max: 1, holder: 'host-b:2' });
    const b = claimed[0] as Reservation;
    const [listed] = await driver.listJobs({ queue, state: 'active' });
    expect(listed).toMatchObject({ id: b.id, lease: { holder: 'host-b:2' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [taken] = await claimNow(dialect.open(), queue, 1, 'host-c:3');
    expect(taken?.id).toBe(b.id);
    expect((await driver.getJob(b.id))?.lease?.holder).toBe('host-c:3');
    await expect(driver.extend(b, 1_000)).rejects.toThrow(LeaseLostError);
    expect(await driver.extendMany([b], 1_000)).toEqual([undefined]);
  });
});

describe('postgres: resume() wakes a reserve waiting in another process through NOTIFY', () => {
  const setup = DIALECTS.find((d) => d.name === 'postgres')?.setup as () => Dialect;
  let dialect: Dialect;
  beforeEach(() => {
    dialect = setup();
  });
  afterEach(async () => {
    await dialect.cleanup();
  });

  it('a reserve whose poll is longer than its wait gets the job of a resumed queue long before its wait ends', async () => {
    const queue = randomQueue();
    const controller = dialect.open();
    await controller.pause(queue);
    await controller.push([createEnvelope({ name: 'held', queue })]);
    // A driver of its own pool whose fallback poll never comes within the wait: only a NOTIFY wakes it.
    const waiter = createPostgresDriver({
      connectionString: DATABASE_URL,
      schema: (controller as { schema: string }).schema,
      pollIntervalMs: 120_000,
    });
    try {
      await waiter.ping();
      const waiting = waiter.reserve([queue], { leaseMs: 30_000, waitMs: 30_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const resumedAt = Date.now();
      await controller.resume(queue);
      const reservation = await waiting;
      expect(reservation?.envelope?.name).toBe('held');
      expect(Date.now() - resumedAt).toBeLessThan(15_000);
    } finally {
      await waiter.close();
    }
  });
});

function failure() {
  return { reason: 'failed' as const, error: { name: 'Error', message: 'boom' }, attempts: 1, firstFailedAt: 1, failedAt: 1 };
}
