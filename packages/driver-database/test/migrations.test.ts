import { ConfigError, createEnvelope, DriverError } from '@queuekit/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresDriver, createSqliteDriver } from '../src/index.js';
import { DIALECTS, type Dialect } from './dialects.js';
import { DATABASE_URL, randomQueue, randomSchema, sql, tempDir } from './helpers.js';

/** The versions from..to, in order. */
const versions = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(DIALECTS)('$name migrations', ({ name, setup }) => {
  let dialect: Dialect;
  beforeEach(() => {
    dialect = setup();
  });
  afterEach(async () => {
    await dialect.cleanup();
  });

  it('a fresh database is migrated to the newest version, and a second run is a no-op', async () => {
    const driver = dialect.open({ migrate: 'manual' });
    const first = await driver.migrate();
    expect(first).toEqual({ from: 0, to: driver.latestVersion, applied: versions(1, driver.latestVersion) });
    expect(await driver.migrate()).toEqual({ from: driver.latestVersion, to: driver.latestVersion, applied: [] });
    expect(await dialect.open({ migrate: 'manual' }).migrate()).toMatchObject({ applied: [] });
  });

  it('concurrent migrators apply each version once', async () => {
    const results = await Promise.all([0, 1, 2, 3].map(() => dialect.open({ migrate: 'manual' }).migrate()));
    expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(versions(1, dialect.open().latestVersion));
  });

  it('an older schema is upgraded in place, keeping its jobs', async () => {
    const queue = randomQueue();
    const driver = dialect.open({ migrate: 'manual' });
    expect(await driver.migrate({ to: 1 })).toEqual({ from: 0, to: 1, applied: [1] });
    // A manual-mode driver refuses to work on the old schema and says what to do.
    await expect(driver.stats(queue)).rejects.toThrow(
      new RegExp(`version 1 but this code needs version ${driver.latestVersion}; run \`queue migrate\``),
    );
    const upgraded = dialect.open({ migrate: 'manual' });
    expect(await upgraded.migrate({ to: 1 })).toMatchObject({ applied: [] });
    const envelope = createEnvelope({ name: 'kept', queue });
    // Version 1 has the jobs table already: a job stored now must survive the upgrade.
    const raw = await dialect.pushRaw(queue, JSON.stringify({ ...envelope }));
    expect(await upgraded.migrate()).toEqual({ from: 1, to: upgraded.latestVersion, applied: versions(2, upgraded.latestVersion) });
    const r = await upgraded.reserve([queue], { leaseMs: 1_000, waitMs: 0 });
    expect(r?.id).toBe(raw);
    expect(r?.envelope?.name).toBe('kept');
    await upgraded.deadLetter(r!, { reason: 'failed', error: { name: 'E', message: 'm' }, attempts: 1, firstFailedAt: 1, failedAt: 1 });
    expect(await upgraded.deadLetters.count({ queue })).toBe(1);
  });

  it('a schema newer than the code is refused with a clear error', async () => {
    const driver = dialect.open();
    await driver.migrate();
    if (name === 'postgres') {
      await sql(`INSERT INTO "${(driver as { schema: string }).schema}".schema_migrations (version, name) VALUES (99, 'future')`);
    } else {
      const db = new Database((driver as { filename: string }).filename);
      db.prepare(`INSERT INTO "queuekit_schema_migrations" (version, name, applied_at) VALUES (99, 'future', 0)`).run();
      db.close();
    }
    const latest = driver.latestVersion;
    const error = await dialect
      .open()
      .stats(randomQueue())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${name}: .*version 99, newer than the newest this code knows \\(${latest}\\); upgrade`),
    );
    await expect(dialect.open({ migrate: 'manual' }).migrate()).rejects.toThrow(/newer than the newest this code knows/);
  });
});

describe('hostile identifiers', () => {
  const hostile = ['x"; DROP TABLE jobs; --', 'Public', 'a.b', 'a b', '1abc', "q'", '', 'x'.repeat(51), 'schéma', 'a-b'];

  it.each(hostile)('postgres refuses schema %j with a ConfigError naming the key', (schema) => {
    const attempt = () => createPostgresDriver({ connectionString: DATABASE_URL, schema });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/^postgres: options\.schema: expected/);
  });

  it.each(hostile.filter((p) => p !== ''))('sqlite refuses table prefix %j with a ConfigError naming the key', (tablePrefix) => {
    const attempt = () => createSqliteDriver({ filename: ':memory:', tablePrefix });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/^sqlite: options\.tablePrefix: expected/);
  });

  it('a refused name creates nothing in the database', async () => {
    expect(() => createPostgresDriver({ connectionString: DATABASE_URL, schema: 'evil"; CREATE SCHEMA qk_pwned; --' })).toThrow(
      ConfigError,
    );
    expect(await sql(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'qk_pwned%' OR nspname LIKE 'evil%'`)).toEqual([]);
  });

  it('valid names work: a custom schema and an empty or custom table prefix', async () => {
    const schema = randomSchema();
    const pg = createPostgresDriver({ connectionString: DATABASE_URL, schema });
    const dir = tempDir();
    const plain = createSqliteDriver({ filename: dir.file(), tablePrefix: '' });
    const custom = createSqliteDriver({ filename: dir.file(), tablePrefix: 'app_jobs_' });
    try {
      for (const driver of [pg, plain, custom]) {
        expect(await driver.migrate()).toMatchObject({ applied: versions(1, driver.latestVersion) });
      }
      const db = new Database(dir.file());
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all();
      db.close();
      expect(tables.map((t) => (t as { name: string }).name)).toContain('app_jobs_jobs');
      expect(tables.map((t) => (t as { name: string }).name)).toContain('jobs');
    } finally {
      await Promise.all([pg.close(), plain.close(), custom.close()]);
      await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      dir.remove();
    }
  });

  it('other options are validated too', () => {
    expect(() => createPostgresDriver({ schema: 'ok' })).toThrow(/give exactly one of connectionString and pool/);
    expect(() => createPostgresDriver({ connectionString: DATABASE_URL, migrate: 'sometimes' as 'auto' })).toThrow(/options\.migrate/);
    expect(() => createSqliteDriver({ filename: ':memory:', busyTimeoutMs: -1 })).toThrow(/options\.busyTimeoutMs/);
  });
});
