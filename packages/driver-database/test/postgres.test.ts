import { createEnvelope, InvalidArgumentError } from '@queuekit/core';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresDriver, type PostgresDriver } from '../src/index.js';
import { postgresSql } from '../src/sql/postgres-sql.js';
import { DATABASE_URL, dropSchema, eventually, randomQueue, randomSchema, sql } from './helpers.js';

describe('postgres: transactional enqueue', () => {
  let schema: string;
  let pool: pg.Pool;
  let driver: PostgresDriver;
  beforeEach(() => {
    schema = randomSchema();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
    driver = createPostgresDriver({ pool, schema });
  });
  afterEach(async () => {
    await driver.close();
    // The driver was given the pool: it must not have ended it.
    expect(pool.ended).toBe(false);
    await pool.end();
    await dropSchema(schema);
  });

  it('declares transactionalPush', () => {
    expect(driver.capabilities.transactionalPush).toBe(true);
  });

  it('a push inside a committed transaction is delivered with the application rows', async () => {
    const queue = randomQueue();
    await driver.migrate();
    await sql(`CREATE TABLE "${schema}".orders (id int PRIMARY KEY)`);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders VALUES (1)`);
      const result = await driver.push([createEnvelope({ name: 'send-receipt', queue, payload: { order: 1 } })], { transaction: client });
      expect(result.pushed).toHaveLength(1);
      // Not visible outside the transaction before COMMIT.
      expect(await driver.reserve([queue], { leaseMs: 1_000, waitMs: 0 })).toBeUndefined();
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const r = await driver.reserve([queue], { leaseMs: 1_000, waitMs: 5_000 });
    expect(r?.envelope?.payload).toEqual({ order: 1 });
  });

  it('a push inside a rolled-back transaction enqueues nothing', async () => {
    const queue = randomQueue();
    await driver.migrate();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await driver.push([createEnvelope({ name: 'never', queue })], { transaction: client });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await driver.reserve([queue], { leaseMs: 1_000, waitMs: 200 })).toBeUndefined();
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
  });

  it('a large push inside a transaction is one statement: skipped keys reported, all or nothing with the transaction', async () => {
    const queue = randomQueue();
    await driver.migrate();
    await driver.push([createEnvelope({ name: 'held', queue, uniqueKey: 'k-0' })]);
    const batch = Array.from({ length: 5_000 }, (_, i) => createEnvelope({ name: 'bulk', queue, uniqueKey: `k-${i % 2_500}` }));
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await driver.push(batch, { transaction: client });
      // k-0 is held by the stored job; every other key is taken by its first envelope in the batch.
      expect(result.pushed).toEqual(batch.slice(1, 2_500).map((e) => e.id));
      expect(result.skipped).toEqual([batch[0]!.id, ...batch.slice(2_500).map((e) => e.id)]);
      expect(await driver.stats(queue)).toMatchObject({ ready: 1 });
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      expect((await driver.push(batch, { transaction: client })).pushed).toHaveLength(2_499);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await driver.stats(queue)).toMatchObject({ ready: 2_500, delayed: 0, reserved: 0 });
  });

  it('a push racing a transaction that stores the same ids or keys skips them once it commits, and stores them once it rolls back', async () => {
    const queue = randomQueue();
    await driver.migrate();
    // Until the transaction ends, a push of the same ids or keys waits on its rows.
    const waitingOnLocks = async (count: number) => {
      const read = async () => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`,
          [`"${schema}".jobs`],
        );
        return (rows[0] as { n: number }).n;
      };
      expect(await eventually(read, (n) => n >= count)).toBe(count);
    };
    for (const outcome of ['COMMIT', 'ROLLBACK'] as const) {
      const batch = Array.from({ length: 200 }, (_, i) =>
        createEnvelope({ name: 'race', queue, ...(i % 2 === 0 ? { uniqueKey: `${outcome}-${i}` } : {}) }),
      );
      const ids = batch.map((e) => e.id);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        expect((await driver.push(batch, { transaction: client })).pushed).toEqual(ids);
        const sameIds = driver.push(batch);
        if (outcome === 'COMMIT') {
          // Other ids, the keys the transaction holds.
          const keyed = batch.filter((e) => e.uniqueKey !== undefined);
          const sameKeys = driver.push(keyed.map((e) => createEnvelope({ name: 'race', queue, uniqueKey: e.uniqueKey! })));
          await waitingOnLocks(2);
          await client.query('COMMIT');
          expect(await sameIds).toEqual({ pushed: [], skipped: ids });
          expect((await sameKeys).pushed).toEqual([]);
          expect((await sameKeys).skipped).toHaveLength(keyed.length);
        } else {
          await waitingOnLocks(1);
          await client.query('ROLLBACK');
          expect(await sameIds).toEqual({ pushed: ids, skipped: [] });
        }
      } finally {
        client.release();
      }
    }
    expect(await driver.stats(queue)).toMatchObject({ ready: 400 });
  });

  it('a transaction handle that is not a pg client is refused', async () => {
    await expect(driver.push([createEnvelope({ name: 'x', queue: randomQueue() })], { transaction: {} })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('postgres: LISTEN/NOTIFY wake-up', () => {
  let schema: string;
  let waiter: PostgresDriver;
  let producer: PostgresDriver;
  beforeEach(() => {
    schema = randomSchema();
    // A poll so slow that only a notification can deliver within the test.
    waiter = createPostgresDriver({ connectionString: DATABASE_URL, schema, pollIntervalMs: 120_000 });
    producer = createPostgresDriver({ connectionString: DATABASE_URL, schema, listen: false });
  });
  afterEach(async () => {
    await Promise.all([waiter.close(), producer.close()]);
    await dropSchema(schema);
  });

  async function pushedWhileWaiting(queue: string): Promise<string | undefined> {
    const waiting = waiter.reserve([queue], { leaseMs: 5_000, waitMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await producer.push([createEnvelope({ name: 'wake', queue })]);
    return (await waiting)?.envelope?.name;
  }

  it('a job pushed by another process wakes a waiting reserve through NOTIFY', async () => {
    await waiter.ping();
    expect(await pushedWhileWaiting(randomQueue())).toBe('wake');
  });

  it('the LISTEN connection reconnects after pg_terminate_backend', async () => {
    await waiter.ping();
    const killed = await sql<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`,
      [`LISTEN "queuekit_${schema}"`],
    );
    expect(killed[0]?.n).toBe(1);
    // Let the listener notice and reconnect (it backs off from 50 ms), then check it hears again.
    for (let i = 0; i < 100 && waiter.recoveredErrors === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(waiter.recoveredErrors).toBeGreaterThan(0);
    for (let i = 0; i < 100; i++) {
      const listening = await sql(`SELECT 1 FROM pg_stat_activity WHERE query = $1`, [`LISTEN "queuekit_${schema}"`]);
      if (listening.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await pushedWhileWaiting(randomQueue())).toBe('wake');
  });
});

describe('postgres: the claim stays an index scan with 1,000,000 jobs queued', () => {
  const schema = randomSchema();
  afterEach(async () => {
    await dropSchema(schema);
  });

  it('EXPLAIN of a 50-job claim uses jobs_claim_idx, no sort, no sequential scan', async () => {
    const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema });
    await driver.migrate();
    await driver.close();
    const queue = 'bulk';
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO "${schema}".jobs (job_id, queue, priority, available_at, body)
         SELECT 'job-' || g, CASE WHEN g % 10 = 0 THEN 'other' ELSE $1 END, g % 3, now() - interval '1 second', '{}'
         FROM generate_series(1, 1000000) g`,
        [queue],
      );
      await client.query(`ANALYZE "${schema}".jobs`);
      const { rows } = await client.query(`EXPLAIN ${postgresSql(`"${schema}"`).claim}`, [queue, 1000, 'token', 50, 'bench-host:1']);
      const plan = rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']).join('\n');
      console.log(`claim plan with 1,000,000 jobs:\n${plan}`);
      expect(plan).toMatch(/Index Scan using jobs_claim_idx/);
      expect(plan).not.toMatch(/Seq Scan on jobs/);
      expect(plan).not.toMatch(/Sort/);
    } finally {
      await client.end();
    }
  });
});

describe('postgres: a table that grew from empty within seconds is analyzed by the driver', () => {
  const schema = randomSchema();
  afterEach(async () => {
    await dropSchema(schema);
  });

  it('after a burst of pushes the claim is planned as an index scan, without waiting for autovacuum', async () => {
    const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema });
    const queue = randomQueue();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await driver.migrate();
      const claimPlan = async () => {
        const { rows } = await client.query(`EXPLAIN ${postgresSql(`"${schema}"`).claim}`, [queue, 1000, 'token', 100, 'bench-host:1']);
        return rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']).join('\n');
      };
      for (let i = 0; i < 20; i += 1) {
        await driver.push(Array.from({ length: 1_000 }, (_, j) => createEnvelope({ name: 'burst', queue, payload: { n: i * 1_000 + j } })));
      }
      // The analysis runs in the background after the push that crossed its threshold.
      let analyzed = 0;
      for (let i = 0; i < 200 && analyzed === 0; i += 1) {
        const { rows } = await client.query(
          `SELECT analyze_count::int AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
          [schema],
        );
        analyzed = (rows[0] as { n: number } | undefined)?.n ?? 0;
        if (analyzed === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(analyzed).toBeGreaterThan(0);
      const { rows } = await client.query(`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = '"${schema}".jobs'::regclass`);
      expect((rows[0] as { n: number }).n).toBeGreaterThanOrEqual(8_000);
      const plan = await claimPlan();
      expect(plan).toMatch(/Index Scan using jobs_claim_idx/);
      expect(plan).not.toMatch(/Sort/);
    } finally {
      await client.end();
      await driver.close();
    }
  });
});

describe('postgres: batch statements', () => {
  let schema: string;
  let driver: PostgresDriver;
  beforeEach(() => {
    schema = randomSchema();
    driver = createPostgresDriver({ connectionString: DATABASE_URL, schema });
  });
  afterEach(async () => {
    await driver.close();
    await dropSchema(schema);
  });

  it('ackAndClaim() does not claim a job it acknowledges, even when that lease ran out', async () => {
    const queue = randomQueue();
    await driver.push([createEnvelope({ name: 'first', queue }), createEnvelope({ name: 'second', queue })]);
    const [expired] = await driver.claim([queue], { leaseMs: 50, waitMs: 0, max: 1 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    // The acked job is due again (its lease ran out) and first in order: the same statement deletes it instead.
    const result = await driver.ackAndClaim([expired!], [queue], { leaseMs: 30_000, max: 2 });
    expect(result.leaseLost).toEqual([]);
    expect(result.claimed.map((r) => r.envelope?.name)).toEqual(['second']);
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, reserved: 1 });
  });

  it('giveBack() wakes a claim waiting in another process through NOTIFY', async () => {
    const queue = randomQueue();
    const waiter = createPostgresDriver({ connectionString: DATABASE_URL, schema, pollIntervalMs: 120_000 });
    try {
      await driver.push([createEnvelope({ name: 'job', queue })]);
      const taken = await driver.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 1 });
      await waiter.ping();
      const waiting = waiter.claim([queue], { leaseMs: 30_000, waitMs: 20_000, max: 1 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await driver.giveBack(taken)).toBe(1);
      expect((await waiting).map((r) => [r.envelope?.name, r.attempt, r.lostDeliveries])).toEqual([['job', 1, 0]]);
    } finally {
      await waiter.close();
    }
  });
});

describe('postgres: migration 6 splits the delivery count', () => {
  const schema = randomSchema();
  afterEach(async () => {
    await dropSchema(schema);
  });

  it('waiting jobs keep their deliveries as failed runs; a leased one does not count its current claim', async () => {
    const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema, migrate: 'manual' });
    try {
      await driver.migrate({ to: 5 });
      const queue = randomQueue();
      const body = (name: string) => JSON.stringify(createEnvelope({ name, queue }));
      // Waiting after two claims; leased (expired) on its first claim; leased (live) on its third claim.
      await sql(
        `INSERT INTO "${schema}".jobs (job_id, queue, priority, available_at, reserved_until, token, deliveries, body) VALUES
          ('waiting', $1, 10, now(), NULL, NULL, 2, $2),
          ('expired', $1, 20, now(), now() - interval '1 second', 'old', 1, $3),
          ('live', $1, 30, now(), now() + interval '1 hour', 'held', 3, $4)`,
        [queue, body('waiting'), body('expired'), body('live')],
      );
      expect(await driver.migrate({ to: 6 })).toMatchObject({ from: 5, applied: [6] });
      await driver.migrate();
      const claimed = await driver.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 3 });
      expect(claimed.map((r) => [r.id, r.attempt, r.lostDeliveries])).toEqual([
        ['waiting', 3, 0],
        ['expired', 1, 1],
      ]);
      expect(await sql(`SELECT attempts, lost_deliveries FROM "${schema}".jobs WHERE job_id = 'live'`)).toEqual([
        { attempts: 2, lost_deliveries: 0 },
      ]);
      const columns = await sql(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'jobs'`, [
        schema,
      ]);
      expect(columns.map((c) => c.column_name)).not.toContain('deliveries');
    } finally {
      await driver.close();
    }
  });
});

describe('postgres: claims rewrite rows in place', () => {
  const schema = randomSchema();
  afterEach(async () => {
    await dropSchema(schema);
  });

  it('a claim of 100 neighbouring rows in one statement updates each of them without an index write (HOT)', async () => {
    const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema });
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const queue = randomQueue();
      await driver.push(Array.from({ length: 1_000 }, (_, i) => createEnvelope({ name: 'hot', queue, payload: { i } })));
      for (let round = 0; round < 10; round++) {
        // One claim statement takes 100 neighbouring rows (LIMIT 100).
        const claimed = await driver.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 100 });
        expect(claimed).toHaveLength(100);
      }
      // A backend reports its table statistics at latest when it exits: close the driver's pool.
      await driver.close();
      const read = async () => {
        await client.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await client.query(
          `SELECT n_tup_upd::int AS updated, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
          [schema],
        );
        return rows[0] as { updated: number; hot: number };
      };
      const counts = await eventually(read, (c) => c.updated >= 1_000, { tries: 100, everyMs: 50 });
      expect(counts.updated).toBe(1_000);
      expect(counts.hot).toBe(1_000);
    } finally {
      await client.end();
      await driver.close();
    }
  });
});

describe('postgres: a migration whose connection the server ends', () => {
  it('fails the migrate() call instead of ending the process, and a later migrate() succeeds', async () => {
    const schema = randomSchema();
    const applicationName = `qk-test-${schema}`;
    const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema, applicationName });
    const holder = new pg.Client({ connectionString: DATABASE_URL });
    await holder.connect();
    try {
      // Hold the migration lock, so the driver's migration waits with its client checked out.
      await holder.query('BEGIN');
      await holder.query(postgresSql(`"${schema}"`).migrationLock, [`queuekit:migrate:${schema}`]);
      const migrating = driver.migrate().then(
        () => 'migrated',
        (error: Error) => error,
      );
      await eventually(
        () =>
          sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [
            applicationName,
          ]),
        (rows) => rows[0]?.n === 1,
      );
      await sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
      expect(await migrating).toBeInstanceOf(Error);
      await holder.query('COMMIT');
      expect((await driver.migrate()).to).toBe(driver.latestVersion);
    } finally {
      await holder.end();
      await driver.close();
      await dropSchema(schema);
    }
  });
});

describe('postgres: job groups across the upgrade that moved the leases into the lanes', () => {
  it('a lease a grouped claim held before the upgrade still holds its group after it, until its job is settled', async () => {
    const schema = randomSchema();
    const queue = randomQueue();
    const driver = createPostgresDriver({ connectionString: DATABASE_URL, schema, migrate: 'manual' });
    try {
      expect(await driver.migrate({ to: 8 })).toMatchObject({ to: 8 });
      // A job of group g leased by a grouped claim as version 8 recorded it: a row of group_leases.
      const [held] = await sql<{ seq: string; token: string }>(
        `INSERT INTO "${schema}".jobs (job_id, queue, priority, available_at, reserved_until, body, group_key)
         VALUES ('held', $1, 0, now(), now() + interval '30 seconds', '{}', 'g') RETURNING seq`,
        [queue],
      );
      const token = `before:${held!.seq}`;
      await sql(`UPDATE "${schema}".jobs SET token = $2 WHERE seq = $1`, [held!.seq, token]);
      await sql(`INSERT INTO "${schema}".job_groups (queue, group_key) VALUES ($1, 'g'), ($1, '')`, [queue]);
      await sql(`INSERT INTO "${schema}".group_leases (seq, queue, group_key, token) VALUES ($1, $2, 'g', $3)`, [held!.seq, queue, token]);
      expect(await driver.migrate()).toMatchObject({ from: 8, to: driver.latestVersion });
      const next = createEnvelope({ name: 'next', queue, group: 'g' });
      await driver.push([next]);
      expect(await driver.reserve([queue], { leaseMs: 30_000, waitMs: 0, groupConcurrency: 1 })).toBeUndefined();
      // Settled (as an acknowledgement deletes it): the group is free.
      await sql(`DELETE FROM "${schema}".jobs WHERE seq = $1`, [held!.seq]);
      expect((await driver.reserve([queue], { leaseMs: 30_000, waitMs: 0, groupConcurrency: 1 }))?.id).toBe(next.id);
    } finally {
      await driver.close();
      await dropSchema(schema);
    }
  });
});
