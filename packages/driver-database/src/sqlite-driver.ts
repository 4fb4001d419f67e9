import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import {
  BASELINE_CAPABILITIES,
  ConfigError,
  type DeadLetterFilter,
  type DeadLetterListOptions,
  type DeadLetterStore,
  type DriverCapabilities,
  DriverClosedError,
  DriverError,
  encodeEnvelope,
  HoldQueue,
  InvalidArgumentError,
  type JobEnvelope,
  type JobFailure,
  LeaseLostError,
  type PushOptions,
  type PushResult,
  type QueueDriver,
  type QueueStats,
  type ReleaseOptions,
  type Reservation,
  type ReserveOptions,
} from '@queuekit/core';
import Database from 'better-sqlite3';
import { validateIdentifier } from './identifier.js';
import { assertMessageSize, resolveMaxMessageBytes } from './message-size.js';
import type { MigrateOptions, MigrationResult } from './migration.js';
import { assertMs, assertQueue, assertQueues, type ClaimedRow, type DeadLetterRow, toDeadLetterEntry, toReservation } from './rows.js';
import { type SqliteSql, sqliteSql } from './sql/sqlite-sql.js';
import type { SqliteDriverOptions } from './sqlite-options.js';
import { SqliteRateLimitStore } from './sqlite-rate-limit-store.js';
import { Waiters } from './waiters.js';
import { wrapError } from './wrap-error.js';

const DIALECT = 'sqlite';
const MAX_PREFIX_LENGTH = 30;

/**
 * Claiming ahead: a claim made in the same event-loop turn as an ack of a job from that queue is a
 * worker loop's, and the transaction that commits both also claims up to AHEAD_MAX more jobs of
 * that queue. The loop's next reserve() calls take them without a transaction of their own, so a
 * loop at concurrency 1 commits once per batch instead of once per job. A job claimed ahead that
 * nobody takes within AHEAD_HOLD_MS is given back with its delivery uncounted; close() gives back
 * the rest. Only for leases of at least AHEAD_MIN_LEASE_MS (a held job keeps its lease).
 */
const AHEAD_MAX = 32;
const AHEAD_HOLD_MS = 20;
const AHEAD_MIN_LEASE_MS = 1_000;

/** The jobs claimed ahead for one worker loop are held per queue and lease. */
const aheadKey = (leaseMs: number, queue: string) => `${leaseMs}\u0000${queue}`;

type Statement = Database.Statement;

/**
 * Waiting reserves of every driver in this process, per database file: a push through one driver
 * wakes a reserve waiting in another driver on the same file at once, without waiting for its poll.
 */
const WAITERS_BY_FILE = new Map<string, Set<Waiters>>();

/**
 * The SQLite dialect: the same schema and claim as PostgreSQL, in one file shared by any number of
 * processes (WAL, busy timeout, every claim inside BEGIN IMMEDIATE). Pushes through this driver
 * wake its waiting reserves at once; other processes' pushes are found by a short poll.
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
  readonly #migrateMode: 'auto' | 'manual';
  readonly #pollIntervalMs: number;
  readonly #busyTimeoutMs: number;
  readonly #waiters = new Waiters();
  readonly #statements = new Map<string, Statement>();
  #db: Database.Database | undefined;
  #ownsDb = false;
  #ready = false;
  #closed = false;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #fileKey: string | undefined;
  /** Acks waiting for the next group commit (one transaction for the acks and claims of one event-loop turn). */
  #acks: { readonly reservation: Reservation; readonly resolve: () => void; readonly reject: (error: unknown) => void }[] = [];
  /** Jobs claimed ahead, per aheadKey(leaseMs, queue). */
  readonly #held = new Map<string, HoldQueue<Reservation>>();
  #aheadClaimed = 0;
  #aheadGivenBack = 0;
  /** Claims waiting for the same group commit. */
  #claims: {
    readonly queues: readonly string[];
    readonly leaseMs: number;
    readonly resolve: (reservation: Reservation | undefined) => void;
    readonly reject: (error: unknown) => void;
  }[] = [];

  constructor(options: SqliteDriverOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new ConfigError(`${DIALECT}: options: expected an object`);
    if (options.filename !== undefined && options.database !== undefined) {
      throw new ConfigError(`${DIALECT}: options: give at most one of filename and database`);
    }
    if (options.filename !== undefined && (typeof options.filename !== 'string' || options.filename === '')) {
      throw new ConfigError(`${DIALECT}: options.filename: expected a non-empty string`);
    }
    this.#maxMessageBytes = resolveMaxMessageBytes(DIALECT, options.maxMessageBytes);
    this.capabilities = Object.freeze({
      ...BASELINE_CAPABILITIES,
      delay: 'native',
      lease: 'native',
      blockingReserve: false,
      bulkPush: true,
      transactionalPush: false,
      uniqueKeys: true,
      rewriteOnRelease: true,
      maxMessageBytes: this.#maxMessageBytes,
    });
    this.tablePrefix = validateIdentifier(DIALECT, 'tablePrefix', options.tablePrefix ?? 'queuekit_', MAX_PREFIX_LENGTH, true);
    const migrate = options.migrate ?? 'auto';
    if (migrate !== 'auto' && migrate !== 'manual')
      throw new ConfigError(`${DIALECT}: options.migrate: expected 'auto' or 'manual', got ${JSON.stringify(migrate)}`);
    this.#migrateMode = migrate;
    const poll = options.pollIntervalMs ?? 50;
    if (!Number.isFinite(poll) || poll < 1)
      throw new ConfigError(`${DIALECT}: options.pollIntervalMs: expected a number >= 1, got ${JSON.stringify(poll)}`);
    this.#pollIntervalMs = poll;
    const busy = options.busyTimeoutMs ?? 5_000;
    if (!Number.isInteger(busy) || busy < 0)
      throw new ConfigError(`${DIALECT}: options.busyTimeoutMs: expected an integer >= 0, got ${JSON.stringify(busy)}`);
    this.#busyTimeoutMs = busy;
    this.#options = options;
    this.filename = options.database === undefined ? (options.filename ?? 'queuekit.sqlite') : undefined;
    this.#sql = sqliteSql(this.tablePrefix);
    this.deadLetters = this.#createDeadLetterStore();
  }

  /** Jobs claimed ahead for worker loops so far, and how many of them were given back (for diagnostics). */
  get claimedAhead(): { readonly claimed: number; readonly givenBack: number } {
    return { claimed: this.#aheadClaimed, givenBack: this.#aheadGivenBack };
  }

  /** The newest schema version this code knows. */
  get latestVersion(): number {
    return this.#sql.migrations[this.#sql.migrations.length - 1]?.version ?? 0;
  }

  /**
   * Brings the tables to the newest version this code knows (or `options.to`) inside BEGIN
   * IMMEDIATE, so concurrent migrators are serialised; a second run is a no-op. Throws DriverError
   * when the file is newer than the code.
   */
  async migrate(options: MigrateOptions = {}): Promise<MigrationResult> {
    this.#assertOpen();
    try {
      return this.#migrate(this.#open(), options.to);
    } catch (error) {
      throw wrapError(DIALECT, 'migrate', error);
    }
  }

  /** A RateLimitStore keeping one row per bucket in `<prefix>rate_limits`. */
  createRateLimitStore(): SqliteRateLimitStore {
    return new SqliteRateLimitStore(
      (operation, fn) => this.#run(operation, async () => fn((name, text) => this.#statement(name, text))),
      this.#sql,
    );
  }

  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    if (!Array.isArray(envelopes)) throw new InvalidArgumentError(`${DIALECT}: push: expected an array of envelopes`);
    if (options.transaction !== undefined) {
      throw new InvalidArgumentError(`${DIALECT}: push: options.transaction is not supported (capabilities.transactionalPush is false)`);
    }
    const bodies: string[] = [];
    for (const envelope of envelopes) {
      assertQueue(DIALECT, envelope.queue);
      const body = encodeEnvelope(envelope);
      assertMessageSize(DIALECT, envelope.id, body, this.#maxMessageBytes);
      bodies.push(body);
    }
    return this.#run('push', async () => {
      const insert = this.#statement('push', this.#sql.push);
      const now = Date.now();
      const pushed: string[] = [];
      const skipped: string[] = [];
      const queues = new Set<string>();
      this.#db!.transaction(() => {
        envelopes.forEach((envelope, index) => {
          const info = insert.run({
            job_id: envelope.id,
            queue: envelope.queue,
            priority: envelope.priority,
            available_at: Math.max(now, Math.round(envelope.availableAt)),
            unique_key: envelope.uniqueKey ?? null,
            created_at: now,
            body: bodies[index],
          });
          if (info.changes === 1) {
            pushed.push(envelope.id);
            queues.add(envelope.queue);
          } else {
            skipped.push(envelope.id);
          }
        });
      }).immediate();
      for (const queue of queues) this.#wakeOne(queue);
      return { pushed, skipped };
    });
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    assertQueues(DIALECT, queues);
    assertMs(DIALECT, 'leaseMs', options.leaseMs, 1);
    assertMs(DIALECT, 'waitMs', options.waitMs, 0);
    return this.#run('reserve', async () => {
      const deadline = Date.now() + options.waitMs;
      let woken = false;
      const held = queues.length === 1 ? this.#held.get(aheadKey(options.leaseMs, queues[0]!)) : undefined;
      for (;;) {
        const taken = held?.shift();
        if (taken !== undefined) return taken;
        const reservation = await new Promise<Reservation | undefined>((resolve, reject) => {
          this.#claims.push({ queues, leaseMs: options.leaseMs, resolve, reject });
          this.#commitSoon();
        });
        if (reservation !== undefined) {
          if (woken) this.#wakeOne(reservation.queue);
          return reservation;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0 || this.#closed || options.signal?.aborted) return undefined;
        const reason = await this.#waiters.wait(queues, Math.min(remaining, this.#pollIntervalMs), options.signal);
        if (reason === 'aborted' || this.#closed) return undefined;
        woken = reason === 'notified';
      }
    });
  }

  async ack(reservation: Reservation): Promise<void> {
    return this.#run(
      'ack',
      () =>
        new Promise<void>((resolve, reject) => {
          this.#acks.push({ reservation, resolve, reject });
          this.#commitSoon();
        }),
    );
  }

  #commitSoon(): void {
    if (this.#acks.length + this.#claims.length === 1) setImmediate(() => this.#commitTurn());
  }

  /**
   * Commits every ack and claim made since the last turn of the event loop in one BEGIN IMMEDIATE
   * transaction: a commit is the costly part of a small write, and a worker that goes on while its
   * jobs are acknowledged makes dozens of acks and reserves per turn. Acks go first, so a worker
   * loop's ack and its next claim share one commit. A lost lease fails only its own ack.
   */
  #commitTurn(): void {
    const acks = this.#acks;
    const claims = this.#claims;
    this.#acks = [];
    this.#claims = [];
    let lost: boolean[];
    let claimed: (Reservation | undefined)[];
    const ahead = new Map<string, Reservation[]>();
    try {
      const ack = this.#statement('ack', this.#sql.ack);
      [lost, claimed] = this.#db!.transaction((): [boolean[], (Reservation | undefined)[]] => {
        const acked = acks.map(({ reservation }) => {
          const info = ack.run({ job_id: reservation.id, token: reservation.token });
          return info.changes === 0 && this.#exists(reservation.id);
        });
        const ackedQueues = new Set(acks.map(({ reservation }) => reservation.queue));
        const served = claims.map(({ queues, leaseMs }) => {
          const reservation = this.#claim(queues, leaseMs);
          const queue = queues[0]!;
          const key = aheadKey(leaseMs, queue);
          if (
            reservation !== undefined &&
            queues.length === 1 &&
            ackedQueues.has(queue) &&
            leaseMs >= AHEAD_MIN_LEASE_MS &&
            !ahead.has(key)
          ) {
            ahead.set(key, this.#claimAhead(queue, leaseMs, AHEAD_MAX - (this.#held.get(key)?.length ?? 0)));
          }
          return reservation;
        });
        return [acked, served];
      }).immediate();
    } catch (error) {
      for (const pending of acks) pending.reject(error);
      for (const pending of claims) pending.reject(error);
      return;
    }
    // Held before the acks resolve, so that a close() waiting for those acks gives them back.
    for (const [key, reservations] of ahead) {
      const held = this.#heldQueue(key);
      for (const reservation of reservations) held.push(reservation);
      this.#aheadClaimed += reservations.length;
    }
    acks.forEach((pending, index) => {
      if (lost[index] === true) pending.reject(this.#leaseLost('ack', pending.reservation, true));
      else pending.resolve();
    });
    claims.forEach((pending, index) => {
      pending.resolve(claimed[index]);
    });
  }

  #heldQueue(key: string): HoldQueue<Reservation> {
    let held = this.#held.get(key);
    if (held === undefined) {
      held = new HoldQueue<Reservation>(AHEAD_HOLD_MS, (reservation) => this.#unclaim([reservation]));
      this.#held.set(key, held);
    }
    return held;
  }

  /** Gives claimed-ahead jobs back, their delivery uncounted; a failure only delays them until their lease runs out. */
  #unclaim(reservations: readonly Reservation[]): void {
    if (reservations.length === 0 || this.#db === undefined) return;
    try {
      const unclaim = this.#statement('unclaim', this.#sql.unclaim);
      const returned = this.#db
        .transaction(() => reservations.reduce((n, r) => n + unclaim.run({ job_id: r.id, token: r.token }).changes, 0))
        .immediate();
      this.#aheadGivenBack += returned;
      for (const queue of new Set(reservations.map((r) => r.queue))) this.#wakeOne(queue);
    } catch {
      // The lease runs out and the job comes back then.
    }
  }

  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    assertMs(DIALECT, 'delayMs', options.delayMs, 0);
    return this.#run('release', async () => {
      const info = this.#statement('release', this.#sql.release).run({
        job_id: reservation.id,
        token: reservation.token,
        available_at: Date.now() + Math.round(options.delayMs),
        body: options.envelope === undefined ? null : encodeEnvelope(options.envelope),
        priority: options.envelope?.priority ?? null,
      });
      if (info.changes === 0) throw this.#leaseLost('release', reservation, this.#exists(reservation.id));
      if (options.delayMs === 0) this.#wakeOne(reservation.queue);
    });
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    assertMs(DIALECT, 'leaseMs', leaseMs, 1);
    return this.#run('extend', async () => {
      const leaseUntil = Date.now() + Math.round(leaseMs);
      const info = this.#statement('extend', this.#sql.extend).run({
        job_id: reservation.id,
        token: reservation.token,
        lease_until: leaseUntil,
      });
      if (info.changes === 0) throw this.#leaseLost('extend', reservation, this.#exists(reservation.id));
      return leaseUntil;
    });
  }

  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    return this.#run('deadLetter', async () => {
      const copy = this.#statement('deadLetter', this.#sql.deadLetter);
      const remove = this.#statement('ack', this.#sql.ack);
      const moved = this.#db!.transaction(() => {
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
      }).immediate();
      if (!moved) throw this.#leaseLost('deadLetter', reservation, this.#exists(reservation.id));
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    assertQueue(DIALECT, queue);
    return this.#run('stats', async () => {
      const row = this.#statement('stats', this.#sql.stats).get({ queue, now: Date.now() }) as {
        ready: number;
        delayed: number;
        reserved: number;
        dead: number;
        oldest_ready_at: number | null;
      };
      return {
        queue,
        ready: row.ready,
        delayed: row.delayed,
        reserved: row.reserved,
        dead: row.dead,
        oldestReadyAt: row.oldest_ready_at ?? undefined,
      };
    });
  }

  async ping(): Promise<number> {
    return this.#run('ping', async () => {
      const started = performance.now();
      this.#statement('ping', 'SELECT 1').get();
      return performance.now() - started;
    });
  }

  async purge(queue: string): Promise<number> {
    assertQueue(DIALECT, queue);
    return this.#run('purge', async () => this.#statement('purge', this.#sql.purge).run({ queue }).changes);
  }

  async close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#waiters.wakeAll();
    this.#closing = (async () => {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#unclaim([...this.#held.values()].flatMap((held) => held.drain()));
      this.#statements.clear();
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

  /** Claims up to `count` next jobs of `queue` for a worker loop; runs inside #commitTurn's transaction. */
  #claimAhead(queue: string, leaseMs: number, count: number): Reservation[] {
    const claimed: Reservation[] = [];
    for (let n = count; n > 0; n--) {
      const next = this.#claim([queue], leaseMs);
      if (next === undefined) break;
      claimed.push(next);
    }
    return claimed;
  }

  /** Claims the next job of the first of `queues` that has one; runs inside #commitTurn's transaction. */
  #claim(queues: readonly string[], leaseMs: number): Reservation | undefined {
    const claim = this.#statement('claim', this.#sql.claim);
    const now = Date.now();
    for (const queue of queues) {
      const token = randomUUID();
      const row = claim.get({ queue, now, lease_until: now + Math.round(leaseMs), token }) as ClaimedRow | undefined;
      if (row !== undefined) return toReservation(row, token);
    }
    return undefined;
  }

  #wakeOne(queue: string): void {
    if (this.#waiters.wakeOne(queue)) return;
    const others = this.#fileKey === undefined ? undefined : WAITERS_BY_FILE.get(this.#fileKey);
    if (others === undefined) return;
    for (const waiters of others) if (waiters.wakeOne(queue)) return;
  }

  #exists(id: string): boolean {
    return this.#statement('exists', this.#sql.exists).get({ job_id: id }) !== undefined;
  }

  #leaseLost(operation: string, reservation: Reservation, present: boolean): LeaseLostError {
    return new LeaseLostError(
      present
        ? `${DIALECT}: ${operation}: job ${reservation.id} is held by another delivery (its lease was lost)`
        : `${DIALECT}: ${operation}: job ${reservation.id} is gone (its lease was lost and the job settled)`,
    );
  }

  #statement(name: string, text: string): Statement {
    let statement = this.#statements.get(name);
    if (statement === undefined) {
      statement = this.#db!.prepare(text);
      this.#statements.set(name, statement);
    }
    return statement;
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverClosedError(`${DIALECT}: the driver is closed`);
  }

  #open(): Database.Database {
    if (this.#db !== undefined) return this.#db;
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
    if (this.filename !== undefined && this.filename !== ':memory:') {
      this.#fileKey = resolve(this.filename);
      let set = WAITERS_BY_FILE.get(this.#fileKey);
      if (set === undefined) {
        set = new Set();
        WAITERS_BY_FILE.set(this.#fileKey, set);
      }
      set.add(this.#waiters);
    }
    return db;
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    this.#inFlight++;
    try {
      if (!this.#ready) {
        const db = this.#open();
        if (this.#migrateMode === 'auto') {
          this.#migrate(db, undefined);
        } else {
          const version = this.#currentVersion(db);
          if (version !== this.latestVersion) {
            throw new DriverError(
              `${DIALECT}: tables "${this.tablePrefix}*" are at version ${version} but this code needs version ${this.latestVersion}; ` +
                `run \`queue migrate\` (driver.migrate()) first${version > this.latestVersion ? ' — the database is newer than the code: upgrade @queuekit/driver-database' : ''}`,
            );
          }
        }
        this.#ready = true;
      }
      return await fn();
    } catch (error) {
      throw wrapError(DIALECT, operation, error);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#drained !== undefined) this.#drained();
    }
  }

  #currentVersion(db: Database.Database): number {
    const present = db.prepare(this.#sql.migrationsTableExists).get({ name: `${this.tablePrefix}schema_migrations` }) as {
      present: number;
    };
    if (present.present === 0) return 0;
    return (db.prepare(this.#sql.currentVersion).get() as { version: number }).version;
  }

  #migrate(db: Database.Database, to: number | undefined): MigrationResult {
    const target = to ?? this.latestVersion;
    if (!Number.isInteger(target) || target < 0 || target > this.latestVersion) {
      throw new InvalidArgumentError(
        `${DIALECT}: migrate: options.to: expected an integer 0..${this.latestVersion}, got ${JSON.stringify(to)}`,
      );
    }
    return db
      .transaction((): MigrationResult => {
        const from = this.#currentVersion(db);
        if (from > this.latestVersion) {
          throw new DriverError(
            `${DIALECT}: tables "${this.tablePrefix}*" are at version ${from}, newer than the newest this code knows (${this.latestVersion}); upgrade @queuekit/driver-database`,
          );
        }
        const applied: number[] = [];
        if (from < target) {
          db.exec(this.#sql.migrationsTable);
          for (const migration of this.#sql.migrations) {
            if (migration.version <= from || migration.version > target) continue;
            for (const statement of migration.statements) db.exec(statement);
            db.prepare(this.#sql.recordMigration).run({ version: migration.version, name: migration.name, now: Date.now() });
            applied.push(migration.version);
          }
        }
        return { from, to: Math.max(from, target), applied };
      })
      .immediate();
  }

  #createDeadLetterStore(): DeadLetterStore {
    const sql = this.#sql;
    const filterValues = (filter: DeadLetterFilter = {}) => {
      if (filter.queue !== undefined) assertQueue(DIALECT, filter.queue);
      return { queue: filter.queue ?? null, failed_before: filter.failedBefore === undefined ? null : Math.round(filter.failedBefore) };
    };
    const retry = (filter: DeadLetterFilter, id: string | null) => {
      const pick = this.#statement('dlqPick', sql.dlqPick);
      const insert = this.#statement('push', sql.push);
      const remove = this.#statement('dlqDelete', sql.dlqDelete);
      const queues = new Set<string>();
      const moved = this.#db!.transaction(() => {
        const now = Date.now();
        let count = 0;
        const rows = pick.all({ ...filterValues(filter), job_id: id }) as {
          job_id: string;
          queue: string;
          priority: number;
          unique_key: string | null;
          body: string;
        }[];
        for (const row of rows) {
          const info = insert.run({ ...row, available_at: now, created_at: now });
          if (info.changes === 1) {
            remove.run({ job_id: row.job_id });
            queues.add(row.queue);
            count++;
          }
        }
        return count;
      }).immediate();
      for (const queue of queues) this.#wakeOne(queue);
      return moved;
    };
    return {
      list: (options: DeadLetterListOptions = {}) =>
        this.#run('deadLetters.list', async () => {
          const limit = options.limit ?? 100;
          const offset = options.offset ?? 0;
          assertMs(DIALECT, 'limit', limit, 0);
          assertMs(DIALECT, 'offset', offset, 0);
          const rows = this.#statement('dlqList', sql.dlqList).all({
            ...filterValues(options),
            limit: Math.floor(limit),
            offset: Math.floor(offset),
          });
          return (rows as DeadLetterRow[]).map(toDeadLetterEntry);
        }),
      get: (id: string) =>
        this.#run('deadLetters.get', async () => {
          const row = this.#statement('dlqGet', sql.dlqGet).get({ job_id: id }) as DeadLetterRow | undefined;
          return row === undefined ? undefined : toDeadLetterEntry(row);
        }),
      retry: (id: string) =>
        this.#run('deadLetters.retry', async () => {
          const row = this.#statement('dlqGet', sql.dlqGet).get({ job_id: id }) as DeadLetterRow | undefined;
          if (row === undefined) return false;
          if (row.poison === 1)
            throw new InvalidArgumentError(`${DIALECT}: deadLetters.retry: job ${id} is a poison body and cannot be retried`);
          if (retry({}, id) === 0) {
            throw new InvalidArgumentError(
              `${DIALECT}: deadLetters.retry: job ${id} cannot be retried while a live job holds its id or unique key`,
            );
          }
          return true;
        }),
      retryAll: (filter: DeadLetterFilter = {}) => this.#run('deadLetters.retryAll', async () => retry(filter, null)),
      purge: (filter: DeadLetterFilter = {}) =>
        this.#run('deadLetters.purge', async () => this.#statement('dlqPurge', sql.dlqPurge).run(filterValues(filter)).changes),
      count: (filter: DeadLetterFilter = {}) =>
        this.#run(
          'deadLetters.count',
          async () => (this.#statement('dlqCount', sql.dlqCount).get(filterValues(filter)) as { count: number }).count,
        ),
    };
  }
}

/** Creates the SQLite dialect of the database driver; with no options it uses `./queuekit.sqlite`. */
export function createSqliteDriver(options: SqliteDriverOptions = {}): SqliteDriver {
  return new SqliteDriver(options);
}
