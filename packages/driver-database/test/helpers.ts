import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

/** The test database: DATABASE_URL, else the local trust-auth server. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name no other test uses. */
/**
 * Reads until `ok` holds, `tries` more times at most, `everyMs` apart; returns the last value read
 * (the caller asserts on it).
 */
export async function eventually<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  { tries = 200, everyMs = 10 }: { tries?: number; everyMs?: number } = {},
): Promise<T> {
  let value = await read();
  for (let i = 0; i < tries && !ok(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await read();
  }
  return value;
}

export function randomSchema(): string {
  return `qk_test_${randomBytes(5).toString('hex')}`;
}

/** A fresh queue name. */
export function randomQueue(): string {
  return `q-${randomBytes(4).toString('hex')}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs one statement on a short-lived connection. */
export async function sql<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A temporary directory for SQLite files, and its cleanup. */
export function tempDir(): { dir: string; file: (name?: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'queuekit-sqlite-'));
  return {
    dir,
    file: (name = 'queue.sqlite') => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Stores an undecodable body straight into a PostgreSQL schema's jobs table (poison tests). */
export async function pushRawPostgres(schema: string, queue: string, raw: string): Promise<string> {
  const id = `raw-${randomBytes(6).toString('hex')}`;
  await sql(`INSERT INTO "${schema}".jobs (job_id, queue, priority, available_at, body) VALUES ($1, $2, 20, now(), $3)`, [id, queue, raw]);
  return id;
}

/** Stores an undecodable body straight into a SQLite file's jobs table (poison tests). */
export function pushRawSqlite(filename: string, prefix: string, queue: string, raw: string): string {
  const id = `raw-${randomBytes(6).toString('hex')}`;
  const db = new Database(filename, { timeout: 5_000 });
  try {
    db.prepare(`INSERT INTO "${prefix}jobs" (job_id, queue, priority, available_at, created_at, body) VALUES (?, ?, 20, ?, ?, ?)`).run(
      id,
      queue,
      Date.now(),
      Date.now(),
      raw,
    );
  } finally {
    db.close();
  }
  return id;
}
