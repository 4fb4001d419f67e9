import { createEnvelope, LeaseLostError, type Reservation } from '@queuekit/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteDriver, type SqliteDriver } from '../src/index.js';
import { randomQueue, tempDir } from './helpers.js';

const LONG_LEASE_MS = 60_000;

/** The SQLite batch members and the two counts, on a temporary file. */
describe('sqlite batch members and delivery counts', () => {
  let dir: ReturnType<typeof tempDir>;
  let drivers: SqliteDriver[];
  let driver: SqliteDriver;
  let queue: string;

  const open = (options: { migrate?: 'auto' | 'manual' } = {}) => {
    const opened = createSqliteDriver({ filename: dir.file(), pollIntervalMs: 20, ...options });
    drivers.push(opened);
    return opened;
  };

  /** Runs `fn` on a connection of its own to the test file (to inspect rows or age a lease). */
  const withFile = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(dir.file(), { timeout: 5_000 });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };

  /** Makes a held lease run out now, as if its worker died: the row keeps its token and a past reserved_until. */
  const expireLease = (r: Reservation) =>
    withFile((db) => db.prepare(`UPDATE "queuekit_jobs" SET reserved_until = 1 WHERE job_id = ? AND token = ?`).run(r.id, r.token).changes);

  const push = async (names: readonly string[], init: { queue?: string; priority?: number } = {}) => {
    const envelopes = names.map((name) =>
      createEnvelope({ name, queue: init.queue ?? queue, ...(init.priority === undefined ? {} : { priority: init.priority }) }),
    );
    await driver.push(envelopes);
    return envelopes;
  };

  const claimNow = (max: number, queues: readonly string[] = [queue]) => driver.claim(queues, { leaseMs: LONG_LEASE_MS, waitMs: 0, max });

  const counts = (r: Reservation | undefined) => ({ name: r?.envelope?.name, attempt: r?.attempt, lostDeliveries: r?.lostDeliveries });

  beforeEach(() => {
    dir = tempDir();
    drivers = [];
    driver = open();
    queue = randomQueue();
  });
  afterEach(async () => {
    await Promise.allSettled(drivers.map((d) => d.close()));
    dir.remove();
  });

  it('declares the batch capability and implements its members', () => {
    expect(driver.capabilities.batch).toBe(true);
    expect(typeof driver.claim).toBe('function');
    expect(typeof driver.ackAndClaim).toBe('function');
    expect(typeof driver.extendMany).toBe('function');
  });

  it('claim() returns up to max jobs by queue order, then priority, then FIFO, each with its own token', async () => {
    const other = randomQueue();
    await push(['low'], { priority: 30 });
    await push(['first', 'second'], { priority: 10 });
    await push(['other-1', 'other-2'], { queue: other });
    const claimed = await claimNow(4, [queue, other]);
    expect(claimed.map((r) => r.envelope?.name)).toEqual(['first', 'second', 'low', 'other-1']);
    expect(claimed.map((r) => r.queue)).toEqual([queue, queue, queue, other]);
    expect(new Set(claimed.map((r) => r.token)).size).toBe(4);
    for (const r of claimed) expect(counts(r)).toMatchObject({ attempt: 1, lostDeliveries: 0 });
    expect((await claimNow(4, [queue, other])).map((r) => r.envelope?.name)).toEqual(['other-2']);
    expect(await claimNow(4, [queue, other])).toEqual([]);
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, reserved: 3 });
  });

  it('claim() waits up to waitMs for the first job and returns [] when none arrives', async () => {
    expect(await driver.claim([queue], { leaseMs: LONG_LEASE_MS, waitMs: 30, max: 5 })).toEqual([]);
    const waiting = driver.claim([queue], { leaseMs: LONG_LEASE_MS, waitMs: 10_000, max: 5 });
    await push(['late']);
    expect((await waiting).map((r) => r.envelope?.name)).toEqual(['late']);
    const aborted = new AbortController();
    const cancelled = driver.claim([queue], { leaseMs: LONG_LEASE_MS, waitMs: 10_000, max: 5, signal: aborted.signal });
    aborted.abort();
    expect(await cancelled).toEqual([]);
  });

  it('claim() rejects a max below 1', async () => {
    await expect(driver.claim([queue], { leaseMs: 1_000, waitMs: 0, max: 0 })).rejects.toThrow(
      /claim: options.max: expected an integer >= 1/,
    );
  });

  it('ackAndClaim() acknowledges every ack and claims the next jobs in one call; only its own lost ack is reported', async () => {
    await push(['a', 'b', 'c', 'd', 'e']);
    const [a, b, c] = await claimNow(3);
    expireLease(c!);
    const other = open();
    const [takenOver] = await other.claim([queue], { leaseMs: LONG_LEASE_MS, waitMs: 0, max: 1 });
    expect(takenOver?.id).toBe(c!.id);

    const result = await driver.ackAndClaim([a!, b!, c!], [queue], { leaseMs: LONG_LEASE_MS, max: 5 });
    expect(result.leaseLost).toEqual([c]);
    expect(result.claimed.map((r) => r.envelope?.name)).toEqual(['d', 'e']);
    // a and b are gone; c stays with its new holder, who can still settle it.
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, reserved: 3 });
    await other.ack(takenOver!);
    expect(await driver.stats(queue)).toMatchObject({ reserved: 2 });
  });

  it('ackAndClaim() with max 0 only acknowledges, and an ack of a job already gone counts as done', async () => {
    await push(['a', 'b']);
    const [a] = await claimNow(1);
    await driver.ack(a!);
    const result = await driver.ackAndClaim([a!], [queue], { leaseMs: LONG_LEASE_MS, max: 0 });
    expect(result).toEqual({ leaseLost: [], claimed: [] });
    expect(await driver.stats(queue)).toMatchObject({ ready: 1, reserved: 0 });
  });

  it('giveBack() makes jobs available at the front of their band with neither count changed; a lost lease is skipped', async () => {
    await push(['a', 'b', 'c']);
    const [a] = await claimNow(1);
    await driver.release(a!, { delayMs: 0 });
    const [again, b] = await claimNow(2);
    expect(counts(again)).toEqual({ name: 'a', attempt: 2, lostDeliveries: 0 });
    expireLease(b!);
    const [bLost] = await claimNow(1);
    expect(counts(bLost)).toEqual({ name: 'b', attempt: 1, lostDeliveries: 1 });

    // `b` (the stale reservation) lost its lease: skipped without an error.
    expect(await driver.giveBack([again!, bLost!, b!])).toBe(2);
    const next = await claimNow(3);
    expect(next.map(counts)).toEqual([
      { name: 'a', attempt: 2, lostDeliveries: 0 },
      { name: 'b', attempt: 1, lostDeliveries: 1 },
      { name: 'c', attempt: 1, lostDeliveries: 0 },
    ]);
    expect(await driver.giveBack([])).toBe(0);
  });

  it('a lease that runs out and is claimed again counts one lost delivery and no attempt; the old token is fenced off', async () => {
    await push(['a']);
    const [first] = await claimNow(1);
    expect(counts(first)).toEqual({ name: 'a', attempt: 1, lostDeliveries: 0 });
    expireLease(first!);
    const second = await driver.reserve([queue], { leaseMs: LONG_LEASE_MS, waitMs: 0 });
    expect(counts(second)).toEqual({ name: 'a', attempt: 1, lostDeliveries: 1 });
    await expect(driver.ack(first!)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(driver.release(first!, { delayMs: 0 })).rejects.toBeInstanceOf(LeaseLostError);
    await driver.ack(second!);
    await driver.ack(second!);
  });

  it('release() counts a failed run: the next claim has attempt 2 and no lost delivery', async () => {
    await push(['a']);
    const [first] = await claimNow(1);
    await driver.release(first!, { delayMs: 0 });
    const [second] = await claimNow(1);
    expect(counts(second)).toEqual({ name: 'a', attempt: 2, lostDeliveries: 0 });
    await driver.release(second!, { delayMs: 0 });
    expect(counts((await claimNow(1))[0])).toEqual({ name: 'a', attempt: 3, lostDeliveries: 0 });
  });

  it('extendMany() renews held leases in one call and returns undefined for a lost one', async () => {
    await push(['a', 'b']);
    const [a, b] = await driver.claim([queue], { leaseMs: 1_000, waitMs: 0, max: 2 });
    expireLease(b!);
    const [bAgain] = await claimNow(1);
    const before = Date.now();
    const expiries = await driver.extendMany([a!, b!], LONG_LEASE_MS);
    expect(expiries[1]).toBeUndefined();
    expect(expiries[0]).toBeGreaterThanOrEqual(before + LONG_LEASE_MS);
    const stored = withFile((db) => db.prepare(`SELECT reserved_until FROM "queuekit_jobs" WHERE job_id = ?`).get(a!.id)) as {
      reserved_until: number;
    };
    expect(stored.reserved_until).toBe(expiries[0]);
    // b stays with its new holder.
    expect(await driver.extendMany([bAgain!], LONG_LEASE_MS)).toEqual([expect.any(Number)]);
    expect(await driver.extendMany([], LONG_LEASE_MS)).toEqual([]);
  });

  it('a dead letter retried comes back with both counts reset', async () => {
    await push(['a']);
    const [first] = await claimNow(1);
    await driver.release(first!, { delayMs: 0 });
    const [second] = await claimNow(1);
    expireLease(second!);
    const [third] = await claimNow(1);
    expect(counts(third)).toEqual({ name: 'a', attempt: 2, lostDeliveries: 1 });
    await driver.deadLetter(third!, { reason: 'failed', error: { name: 'E', message: 'm' }, attempts: 2, firstFailedAt: 1, failedAt: 2 });
    expect(await driver.deadLetters.retry(third!.id)).toBe(true);
    expect(counts((await claimNow(1))[0])).toEqual({ name: 'a', attempt: 1, lostDeliveries: 0 });
  });

  it('migrating from version 4 carries the old delivery count over as failed runs, minus a lease held now', async () => {
    const old = open({ migrate: 'manual' });
    await old.migrate({ to: 4 });
    const [idle, held] = ['idle', 'held'].map((name) => createEnvelope({ name, queue }));
    withFile((db) => {
      const insert = db.prepare(
        `INSERT INTO "queuekit_jobs" (job_id, queue, priority, available_at, reserved_until, token, deliveries, created_at, body)
         VALUES (?, ?, 20, 0, ?, ?, ?, 0, ?)`,
      );
      insert.run(idle!.id, queue, null, null, 2, JSON.stringify(idle));
      // Held by a worker that will die: its lease has run out.
      insert.run(held!.id, queue, 1, 'old-token', 3, JSON.stringify(held));
    });
    expect(await old.migrate({ to: 5 })).toMatchObject({ from: 4, applied: [5] });
    await old.migrate();
    const columns = withFile((db) => db.prepare(`SELECT name FROM pragma_table_info('queuekit_jobs')`).all() as { name: string }[]);
    expect(columns.map((c) => c.name)).toEqual(expect.arrayContaining(['attempts', 'lost_deliveries']));
    expect(columns.map((c) => c.name)).not.toContain('deliveries');
    const claimed = await claimNow(2);
    expect(claimed.map(counts)).toEqual([
      { name: 'idle', attempt: 3, lostDeliveries: 0 },
      { name: 'held', attempt: 3, lostDeliveries: 1 },
    ]);
  });
});
