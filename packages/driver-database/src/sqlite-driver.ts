import { resolve } from 'node:path';
import {
  type AckAndClaimOptions,
  type AckAndClaimResult,
  type AckOptions,
  type CancelOutcome,
  type ClaimOptions,
  ConfigError,
  type DeadLetterStore,
  type DriverCapabilities,
  DriverClosedError,
  InvalidArgumentError,
  type JobEnvelope,
  type JobFailure,
  type JobInfo,
  type JobListOptions,
  type JobLookupOptions,
  type PostponeOptions,
  type PushOptions,
  type PushResult,
  type QueueDriver,
  type QueueStats,
  type ReleaseOptions,
  type Reservation,
  type ReserveOptions,
} from '@queuekit/core';
import {
  checkGroupConcurrency,
  encodeEnvelope,
  InFlightCalls,
  type Retention,
  refuseTransaction,
  resolveRetention,
} from '@queuekit/core/driver';
import Database from 'better-sqlite3';
import { databaseCapabilities } from './database-capabilities.js';
import { validateIdentifier } from './identifier.js';
import { type PruneBounds, pruneBounds } from './job-rows.js';
import { leaseLostError } from './lease-lost.js';
import { resolveMaxMessageBytes } from './message-size.js';
import type { MigrateOptions, MigrationResult } from './migration.js';
import { assertOptionsObject, integerOption, migrateOption, numberOption } from './option-checks.js';
import { assertAckAndClaimArguments, assertClaimArguments, assertMs, assertQueue, assertQueues } from './rows.js';
import { sqliteCoordinationSql } from './sql/coordination-sql.js';
import { type SqliteSql, sqliteSql } from './sql/sqlite-sql.js';
import { ackJobs, claimJobs, extendLeases, giveBackJobs } from './sqlite-claims.js';
import { SqliteCoordinationStore } from './sqlite-coordination-store.js';
import { SqliteDeadLetterStore } from './sqlite-dead-letter-store.js';
import { SqliteJobs } from './sqlite-jobs.js';
import type { SqliteDriverOptions } from './sqlite-options.js';
import { postponeSqlite } from './sqlite-postpone.js';
import { encodePush, pushJobs } from './sqlite-push.js';
import { SqliteRateLimitStore } from './sqlite-rate-limit-store.js';
import { SqliteSchema } from './sqlite-schema.js';
import { SqliteStatements } from './sqlite-statements.js';
import { Waiters } from './waiters.js';
import { wrapError } from './wrap-error.js';

const DIALECT = 'sqlite';
const MAX_PREFIX_LENGTH = 30;

/**
 * Waiting reserves of every driver in this process, per database file: a push through one driver
 * wakes a reserve waiting in another driver on the same file at once, without waiting for its poll.
 */
const WAITERS_BY_FILE = new Map<string, Set<Waiters>>();

/**
 * The SQLite dialect: the same schema and claim as PostgreSQL, in one file shared by any number of
 * processes (WAL, busy timeout, every claim inside BEGIN IMMEDIATE). Each call is one transaction,
 * a batch call too; grouping calls is the Worker's job. Pushes through this driver wake its
 * waiting reserves at once; other processes' pushes are found by a short poll.
 */
export class SqliteDriver implements QueueDriver {
  readonly name = DIALECT;
  readonly capabilities: DriverCapabilities;
  /** The validated table prefix. */
  readonly tablePrefix: string;
  /** The database file (`undefined` when an open database was passed in). */
  readonly filename: string | undefined;
  readonly deadLetters: DeadLetterStore;

  readonly #maxMessageBytes: number;
  readonly #options: SqliteDriverOptions;
  readonly #sql: SqliteSql;
  readonly #schema: SqliteSchema;
  readonly #migrateMode: 'auto' | 'manual';
  readonly #pollIntervalMs: number;
  readonly #busyTimeoutMs: number;
  readonly #waiters = new Waiters();
  readonly #retention: Retention;
  readonly #bounds: PruneBounds;
  readonly #jobs: SqliteJobs;
  #db: Database.Database | undefined;
  #statements: SqliteStatements | undefined;
  #ownsDb = false;
  #ready = false;
  #closed = false;
  readonly #inFlight = new InFlightCalls();
  #closing: Promise<void> | undefined;
  #fileKey: string | undefined;

  constructor(options: SqliteDriverOptions = {}) {
    assertOptionsObject(DIALECT, options);
    if (options.filename !== undefined && options.database !== undefined) {
      throw new ConfigError(`${DIALECT}: options: give at most one of filename and database`);
    }
    if (options.filename !== undefined && (typeof options.filename !== 'string' || options.filename === '')) {
      throw new ConfigError(`${DIALECT}: options.filename: expected a non-empty string`);
    }
    this.#maxMessageBytes = resolveMaxMessageBytes(DIALECT, options.maxMessageBytes);
    this.#retention = resolveRetention(DIALECT, options.retention);
    this.#bounds = pruneBounds(this.#retention);
    this.capabilities = databaseCapabilities({
      blockingReserve: false,
      transactionalPush: false,
      maxMessageBytes: this.#maxMessageBytes,
      retention: this.#retention,
      groups: true,
    });
    this.tablePrefix = validateIdentifier(DIALECT, 'tablePrefix', options.tablePrefix ?? 'queuekit_', MAX_PREFIX_LENGTH, true);
    this.#migrateMode = migrateOption(DIALECT, options.migrate);
    this.#pollIntervalMs = numberOption(DIALECT, 'pollIntervalMs', options.pollIntervalMs, 50, 1);
    this.#busyTimeoutMs = integerOption(DIALECT, 'busyTimeoutMs', options.busyTimeoutMs, 5_000, 0);
    this.#options = options;
    this.filename = options.database === undefined ? (options.filename ?? 'queuekit.sqlite') : undefined;
    this.#sql = sqliteSql(this.tablePrefix);
    this.#schema = new SqliteSchema(this.#sql, this.tablePrefix);
    this.deadLetters = new SqliteDeadLetterStore(
      (operation, fn) => this.#run(operation, fn),
      (queue) => this.#wakeOne(queue),
    );
    this.#jobs = new SqliteJobs(
      (operation, fn) => this.#run(operation, fn),
      (queue) => this.#wakeOne(queue),
      this.#bounds,
    );
  }

  /** The newest schema version this code knows. */
  get latestVersion(): number {
    return this.#schema.latestVersion;
  }

  /**
   * Brings the tables to the newest version this code knows (or `options.to`) inside BEGIN
   * IMMEDIATE, so concurrent migrators are serialised; a second run is a no-op. Throws DriverError
   * when the file is newer than the code.
   */
  async migrate(options: MigrateOptions = {}): Promise<MigrationResult> {
    this.#assertOpen();
    try {
      this.#open();
      return this.#schema.migrate(this.#db!, options.to);
    } catch (error) {
      throw wrapError(DIALECT, 'migrate', error);
    }
  }

  /** A RateLimitStore keeping one row per bucket in `<prefix>rate_limits`. */
  createRateLimitStore(): SqliteRateLimitStore {
    return new SqliteRateLimitStore((operation, fn) => this.#run(operation, (db) => fn((name, text) => db.prepare(name, text))), this.#sql);
  }

  /** Counters and leased keys for job middleware, one row per key in `<prefix>coordination`. */
  createCoordinationStore(): SqliteCoordinationStore {
    return new SqliteCoordinationStore(
      (operation, fn) => this.#run(operation, (db) => fn((name, text) => db.prepare(name, text))),
      sqliteCoordinationSql(this.tablePrefix),
    );
  }

  /** Hands a delivery back unrun, due after `options.delayMs`, neither count changed. */
  async postpone(reservation: Reservation, options: PostponeOptions): Promise<void> {
    assertMs(DIALECT, 'delayMs', options.delayMs, 0);
    return this.#run('postpone', (db) => {
      postponeSqlite(db, sqliteCoordinationSql(this.tablePrefix), reservation, options);
      if (options.delayMs === 0) this.#wakeOne(reservation.queue);
    });
  }

  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    if (!Array.isArray(envelopes)) throw new InvalidArgumentError(`${DIALECT}: push: expected an array of envelopes`);
    refuseTransaction(DIALECT, options);
    const bodies = encodePush(envelopes, this.#maxMessageBytes);
    return this.#run('push', (db) => {
      const { pushed, skipped, queues } = pushJobs(db, envelopes, bodies);
      for (const queue of queues) this.#wakeOne(queue);
      return { pushed, skipped };
    });
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    assertQueues(DIALECT, queues);
    assertMs(DIALECT, 'leaseMs', options.leaseMs, 1);
    assertMs(DIALECT, 'waitMs', options.waitMs, 0);
    const [reservation] = await this.#claimWaiting('reserve', queues, options, 1);
    return reservation;
  }

  async claim(queues: readonly string[], options: ClaimOptions): Promise<Reservation[]> {
    assertClaimArguments(DIALECT, queues, options);
    return this.#claimWaiting('claim', queues, options, options.max);
  }

  async ack(reservation: Reservation, options: AckOptions = {}): Promise<void> {
    const records = [this.#kept(options.record)];
    return this.#run('ack', (db) => {
      // Without a record one autocommitted DELETE; the lost-lease check only runs when it deleted nothing.
      const ack = () => ackJobs(db, [reservation], records, this.#bounds);
      if ((records[0] === null ? ack() : db.immediate(ack)).length > 0) throw leaseLostError(DIALECT, 'ack', reservation, true);
    });
  }

  async ackAndClaim(acks: readonly Reservation[], queues: readonly string[], options: AckAndClaimOptions): Promise<AckAndClaimResult> {
    assertAckAndClaimArguments(DIALECT, acks, queues, options);
    const groups = checkGroupConcurrency(DIALECT, options.groupConcurrency);
    return this.#run('ackAndClaim', (db) => {
      if (acks.length === 0 && options.max === 0) return { leaseLost: [], claimed: [] };
      const records = acks.map((_, index) => this.#kept(options.records?.[index]));
      return db.immediate(() => ({
        leaseLost: ackJobs(db, acks, records, this.#bounds),
        claimed: options.max > 0 ? claimJobs(db, queues, options.leaseMs, options.max, options.holder ?? null, groups) : [],
      }));
    });
  }

  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    assertMs(DIALECT, 'delayMs', options.delayMs, 0);
    return this.#run('release', (db) => {
      const info = db.get('release').run({
        job_id: reservation.id,
        token: reservation.token,
        available_at: Date.now() + Math.round(options.delayMs),
        body: options.envelope === undefined ? null : encodeEnvelope(options.envelope),
        priority: options.envelope?.priority ?? null,
      });
      if (info.changes === 0) throw this.#jobs.refusal(db, 'release', reservation);
      if (options.delayMs === 0) this.#wakeOne(reservation.queue);
    });
  }

  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    if (!Array.isArray(reservations)) throw new InvalidArgumentError(`${DIALECT}: giveBack: expected an array of reservations`);
    return this.#run('giveBack', (db) => {
      if (reservations.length === 0) return 0;
      const count = db.immediate(() => giveBackJobs(db, reservations));
      if (count > 0) for (const queue of new Set(reservations.map((r) => r.queue))) this.#wakeOne(queue);
      return count;
    });
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    assertMs(DIALECT, 'leaseMs', leaseMs, 1);
    return this.#run('extend', (db) => {
      const [leaseUntil] = extendLeases(db, [reservation], leaseMs);
      if (leaseUntil === undefined) throw this.#jobs.refusal(db, 'extend', reservation);
      return leaseUntil;
    });
  }

  async extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | 'cancelled' | undefined)[]> {
    if (!Array.isArray(reservations)) throw new InvalidArgumentError(`${DIALECT}: extendMany: expected an array of reservations`);
    assertMs(DIALECT, 'leaseMs', leaseMs, 1);
    return this.#run('extendMany', (db) => {
      if (reservations.length === 0) return [];
      const expiries = db.immediate(() => extendLeases(db, reservations, leaseMs));
      // Only the renewals that failed ask why: a cancelled job is told apart from a lost lease.
      return expiries.map((expiry, i) => (expiry === undefined && this.#jobs.wasCancelled(db, reservations[i]!) ? 'cancelled' : expiry));
    });
  }

  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    return this.#run('deadLetter', (db) => {
      const copy = db.get('deadLetter');
      const remove = db.get('ack');
      const moved = db.immediate(() => {
        const info = copy.run({
          job_id: reservation.id,
          token: reservation.token,
          name: reservation.envelope?.name ?? null,
          poison: reservation.envelope === undefined ? 1 : 0,
          reason: failure.reason,
          error: JSON.stringify(failure.error),
          attempts: failure.attempts,
          first_failed_at: Math.round(failure.firstFailedAt),
          failed_at: Math.round(failure.failedAt),
        });
        if (info.changes === 0) return false;
        remove.run({ job_id: reservation.id, token: reservation.token });
        return true;
      });
      if (!moved) throw this.#jobs.refusal(db, 'deadLetter', reservation);
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    assertQueue(DIALECT, queue);
    return this.#run('stats', (db) => {
      const row = db.get('stats').get({ queue, now: Date.now() }) as {
        ready: number;
        delayed: number;
        reserved: number;
        dead: number;
        completed: number;
        paused: number;
        oldest_ready_at: number | null;
      };
      return {
        queue,
        ready: row.ready,
        delayed: row.delayed,
        reserved: row.reserved,
        dead: row.dead,
        oldestReadyAt: row.oldest_ready_at ?? undefined,
        paused: row.paused === 1,
        ...(this.#retention.completed ? { completed: row.completed } : {}),
      };
    });
  }

  async ping(): Promise<number> {
    return this.#run('ping', (db) => {
      const started = performance.now();
      db.get('ping').get();
      return performance.now() - started;
    });
  }

  async purge(queue: string): Promise<number> {
    assertQueue(DIALECT, queue);
    return this.#run('purge', (db) => db.get('purge').run({ queue }).changes);
  }

  getJob(id: string, options?: JobLookupOptions): Promise<JobInfo | undefined> {
    return this.#jobs.getJob(id, options);
  }

  listJobs(options: JobListOptions): Promise<JobInfo[]> {
    return this.#jobs.listJobs(options);
  }

  setProgress(reservation: Reservation, progress: string): Promise<void> {
    return this.#jobs.setProgress(reservation, progress);
  }

  cancel(id: string, options?: JobLookupOptions): Promise<CancelOutcome> {
    return this.#jobs.cancel(id, options);
  }

  pause(queue: string): Promise<void> {
    return this.#jobs.pause(queue);
  }

  resume(queue: string): Promise<void> {
    return this.#jobs.resume(queue);
  }

  async close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#waiters.wakeAll();
    this.#closing = (async () => {
      await this.#inFlight.drained();
      this.#statements?.clear();
      this.#statements = undefined;
      if (this.#fileKey !== undefined) {
        const set = WAITERS_BY_FILE.get(this.#fileKey);
        set?.delete(this.#waiters);
        if (set?.size === 0) WAITERS_BY_FILE.delete(this.#fileKey);
      }
      if (this.#ownsDb) this.#db?.close();
      this.#db = undefined;
    })();
    return this.#closing;
  }

  /**
   * Claims up to `max` jobs in one BEGIN IMMEDIATE transaction; when none is due, waits for a push
   * (or the next poll, for other processes' pushes) until `waitMs` has passed.
   */
  #claimWaiting(operation: string, queues: readonly string[], options: ReserveOptions, max: number): Promise<Reservation[]> {
    const groups = checkGroupConcurrency(DIALECT, options.groupConcurrency);
    return this.#run(operation, async (db) => {
      const deadline = Date.now() + options.waitMs;
      let woken = false;
      for (;;) {
        const claimed = db.immediate(() => claimJobs(db, queues, options.leaseMs, max, options.holder ?? null, groups));
        if (claimed.length > 0) {
          // Woken by a push and took all it could: more may be due, so pass the wake-up on.
          if (woken && claimed.length === max) this.#wakeOne(claimed[0]!.queue);
          return claimed;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0 || this.#closed || options.signal?.aborted) return [];
        const reason = await this.#waiters.wait(queues, Math.min(remaining, this.#pollIntervalMs), options.signal);
        if (reason === 'aborted' || this.#closed) return [];
        woken = reason === 'notified';
      }
    });
  }

  /** The record an ack keeps: the one given, where completed jobs are kept. */
  #kept(record: string | undefined): string | null {
    return this.#retention.completed && record !== undefined ? record : null;
  }

  #wakeOne(queue: string): void {
    if (this.#waiters.wakeOne(queue)) return;
    const others = this.#fileKey === undefined ? undefined : WAITERS_BY_FILE.get(this.#fileKey);
    if (others === undefined) return;
    for (const waiters of others) if (waiters.wakeOne(queue)) return;
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverClosedError(`${DIALECT}: the driver is closed`);
  }

  #open(): SqliteStatements {
    if (this.#statements !== undefined) return this.#statements;
    let db: Database.Database;
    if (this.#options.database !== undefined) {
      db = this.#options.database;
    } else {
      db = new Database(this.filename as string, { timeout: this.#busyTimeoutMs });
      this.#ownsDb = true;
    }
    try {
      db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
      if (db.name !== ':memory:' && db.name !== '') db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a commit survives a process crash; only an OS crash can lose the last commits.
      db.pragma('synchronous = NORMAL');
    } catch (error) {
      if (this.#ownsDb) db.close();
      throw error;
    }
    this.#db = db;
    this.#statements = new SqliteStatements(db, this.#sql);
    if (this.filename !== undefined && this.filename !== ':memory:') {
      this.#fileKey = resolve(this.filename);
      let set = WAITERS_BY_FILE.get(this.#fileKey);
      if (set === undefined) {
        set = new Set();
        WAITERS_BY_FILE.set(this.#fileKey, set);
      }
      set.add(this.#waiters);
    }
    return this.#statements;
  }

  /** Runs one call: open check, first-call migration or version check, error wrapping, in-flight count for close(). */
  async #run<T>(operation: string, fn: (db: SqliteStatements) => T | Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await this.#inFlight.track(() => {
        const statements = this.#open();
        if (!this.#ready) {
          if (this.#migrateMode === 'auto') this.#schema.migrate(this.#db!, undefined);
          else this.#schema.assertCurrent(this.#db!);
          this.#ready = true;
        }
        return fn(statements);
      });
    } catch (error) {
      throw wrapError(DIALECT, operation, error);
    }
  }
}

/** Creates the SQLite dialect of the database driver; with no options it uses `./queuekit.sqlite`. */
export function createSqliteDriver(options: SqliteDriverOptions = {}): SqliteDriver {
  return new SqliteDriver(options);
}
