import { createHash } from 'node:crypto';
import {
  type AckAndClaimOptions,
  type AckAndClaimResult,
  type AckOptions,
  type CancelOutcome,
  type ClaimOptions,
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
  type QueueError,
  type QueueStats,
  type ReleaseOptions,
  type Reservation,
  type ReserveOptions,
} from '@queuekit/core';
import { checkGroupConcurrency, InFlightCalls, type Retention, resolveRetention } from '@queuekit/core/driver';
import pg from 'pg';
import { checkOut } from './checked-out-client.js';
import { databaseCapabilities } from './database-capabilities.js';
import { quoteIdentifier, validateIdentifier } from './identifier.js';
import { pruneBounds } from './job-rows.js';
import { resolveMaxMessageBytes } from './message-size.js';
import type { MigrateOptions, MigrationResult } from './migration.js';
import { integerOption, migrateOption, numberOption } from './option-checks.js';
import { PostgresClaims } from './postgres-claims.js';
import { PostgresCoordinationStore } from './postgres-coordination-store.js';
import { PostgresDeadLetterStore } from './postgres-dead-letter-store.js';
import { PostgresGroupClaims } from './postgres-group-claims.js';
import { PostgresJobs } from './postgres-jobs.js';
import { PostgresListener } from './postgres-listener.js';
import { assertPostgresOptions, type PostgresDriverOptions } from './postgres-options.js';
import { postponePostgres } from './postgres-postpone.js';
import { pushColumns, splitStored } from './postgres-push.js';
import { type PostgresExecutor, PostgresRateLimitStore } from './postgres-rate-limit-store.js';
import { PostgresSchema } from './postgres-schema.js';
import { PostgresSettle } from './postgres-settle.js';
import { PostgresTableAnalyzer } from './postgres-table-analyzer.js';
import { assertAckAndClaimArguments, assertClaimArguments, assertMs, assertQueue, assertQueues } from './rows.js';
import { postgresCoordinationSql } from './sql/coordination-sql.js';
import { type PostgresSql, postgresSql } from './sql/postgres-sql.js';
import { Waiters } from './waiters.js';
import { isConnectionError, wrapError } from './wrap-error.js';

const DIALECT = 'postgres';
/** The SQLSTATE of a unique index refusing a row. */
const UNIQUE_VIOLATION = '23505';
const MAX_SCHEMA_LENGTH = 50;

/** Anything with pg's `query(text, values)`: a PoolClient inside the application's transaction. */
interface Queryable {
  query(text: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult>;
}

/** The statements that can be sent as named (server-side prepared) statements: the single-text ones. */
type PreparedStatement = { [K in keyof PostgresSql]: PostgresSql[K] extends string ? K : never }[keyof PostgresSql];

/**
 * The PostgreSQL dialect: jobs in `<schema>.jobs`, claimed with `FOR UPDATE SKIP LOCKED` in
 * (priority, seq) order, leased through `reserved_until` with a fencing token per delivery, woken by
 * LISTEN/NOTIFY with a slow poll as fallback. Every time is the server's `now()`. Each call is one
 * statement (a claim across several queues one per queue until filled); grouping calls is the
 * Worker's business, through the batch members.
 */
export class PostgresDriver implements QueueDriver {
  readonly name = DIALECT;
  readonly capabilities: DriverCapabilities;
  /** The validated schema name. */
  readonly schema: string;
  readonly deadLetters: DeadLetterStore;

  readonly #maxMessageBytes: number;
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #sql: PostgresSql;
  readonly #schema: PostgresSchema;
  readonly #claims: PostgresClaims;
  readonly #jobs: PostgresJobs;
  readonly #settle: PostgresSettle;
  readonly #retention: Retention;
  readonly #channel: string;
  readonly #migrateMode: 'auto' | 'manual';
  readonly #pollIntervalMs: number;
  readonly #listener: PostgresListener | undefined;
  readonly #waiters = new Waiters();
  readonly #analyzer: PostgresTableAnalyzer;
  readonly #onBackgroundError: (error: QueueError) => void;
  readonly #statementPrefix: string;
  #ready: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #inFlight = new InFlightCalls();
  #notifications = 0;
  #errors = 0;

  constructor(options: PostgresDriverOptions) {
    assertPostgresOptions(options);
    this.#maxMessageBytes = resolveMaxMessageBytes(DIALECT, options.maxMessageBytes);
    this.#retention = resolveRetention(DIALECT, options.retention);
    this.capabilities = databaseCapabilities({
      blockingReserve: true,
      transactionalPush: true,
      maxMessageBytes: this.#maxMessageBytes,
      retention: this.#retention,
      groups: true,
    });
    this.schema = validateIdentifier(DIALECT, 'schema', options.schema ?? 'queuekit', MAX_SCHEMA_LENGTH);
    this.#migrateMode = migrateOption(DIALECT, options.migrate);
    this.#pollIntervalMs = numberOption(DIALECT, 'pollIntervalMs', options.pollIntervalMs, 1_000, 10);
    const poolSize = integerOption(DIALECT, 'poolSize', options.poolSize, 10, 1);
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});

    this.#sql = postgresSql(quoteIdentifier(this.schema), { durableSettle: options.durableSettle === true });
    this.#channel = `queuekit_${this.schema}`;
    // Statement names are per connection and at most 63 bytes: a short digest keeps them apart per schema and mode.
    this.#statementPrefix = `qk_${createHash('sha1')
      .update(`${this.schema}:${options.durableSettle === true}`)
      .digest('hex')
      .slice(0, 12)}_`;
    if (options.pool !== undefined) {
      this.#pool = options.pool;
      this.#ownsPool = false;
    } else {
      this.#pool = new pg.Pool({
        connectionString: options.connectionString as string,
        max: poolSize,
        application_name: options.applicationName ?? 'queuekit',
      });
      this.#ownsPool = true;
      // An idle client killed by the server emits here; the pool already dropped it.
      this.#pool.on('error', (error) => this.#backgroundError('idle connection', error));
    }
    this.#listener =
      options.listen === false
        ? undefined
        : new PostgresListener(this.#pool.options as pg.ClientConfig, this.#channel, {
            onNotify: (queue) => {
              this.#notifications++;
              this.#waiters.wakeOne(queue);
            },
            onConnect: () => {
              this.#notifications++;
              this.#waiters.wakeAll();
            },
            onError: (error) => this.#backgroundError('listen', error),
          });
    this.#analyzer = new PostgresTableAnalyzer(
      () =>
        this.#run('analyze', async () => {
          await this.#pool.query(this.#sql.analyzeJobs);
          const { rows } = await this.#pool.query(this.#sql.jobRows, [this.schema]);
          return Number((rows[0] as { rows?: number } | undefined)?.rows ?? 0);
        }),
      (error) => this.#backgroundError('analyze', error),
    );
    this.#schema = new PostgresSchema(this.#pool, this.#sql, this.schema, (operation, error) => this.#backgroundError(operation, error));
    this.#claims = new PostgresClaims({
      pool: this.#pool,
      prepared: (statement, values) => this.#prepared(statement, values),
      retryOnConnectionLoss: (query) => this.#retryOnConnectionLoss(query),
      recovered: () => {
        this.#errors++;
      },
      bounds: pruneBounds(this.#retention),
      groups: new PostgresGroupClaims({
        pool: this.#pool,
        prepared: (statement, values) => this.#prepared(statement, values),
        checkOut: () => checkOut(this.#pool, (error) => this.#backgroundError('grouped claim connection', error)),
      }),
    });
    this.#jobs = new PostgresJobs({
      pool: this.#pool,
      sql: this.#sql,
      channel: this.#channel,
      bounds: pruneBounds(this.#retention),
      run: (operation, fn) => this.#run(operation, fn),
      wake: (queue) => this.#waiters.wakeOne(queue),
      backgroundError: (operation, error) => this.#backgroundError(operation, error),
    });
    this.#settle = new PostgresSettle({
      pool: this.#pool,
      prepared: (statement, values) => this.#prepared(statement, values),
      retryOnConnectionLoss: (query) => this.#retryOnConnectionLoss(query),
      jobs: this.#jobs,
      channel: this.#channel,
      wake: (queue) => this.#waiters.wakeOne(queue),
    });
    this.deadLetters = new PostgresDeadLetterStore({
      pool: this.#pool,
      sql: this.#sql,
      channel: this.#channel,
      run: (operation, fn) => this.#run(operation, fn),
      wake: (queue) => (queue === undefined ? this.#waiters.wakeAll() : this.#waiters.wakeOne(queue)),
    });
  }

  /** Connection and listener errors observed and recovered from so far (for diagnostics). */
  get recoveredErrors(): number {
    return this.#errors;
  }

  /**
   * Brings the schema to the newest version this code knows (or `options.to`), in one transaction
   * under an advisory lock; a second run is a no-op. Throws DriverError when the database is newer
   * than the code.
   */
  async migrate(options: MigrateOptions = {}): Promise<MigrationResult> {
    this.#assertOpen();
    try {
      return await this.#schema.migrate(options.to);
    } catch (error) {
      throw wrapError(DIALECT, 'migrate', error);
    }
  }

  /** The newest schema version this code knows. */
  get latestVersion(): number {
    return this.#schema.latestVersion;
  }

  /** A RateLimitStore keeping one row per bucket in `<schema>.rate_limits`, on the server's clock. */
  createRateLimitStore(): PostgresRateLimitStore {
    return new PostgresRateLimitStore((operation, text, values) => this.#run(operation, () => this.#pool.query(text, values)), this.#sql);
  }

  /** Counters and leased keys for job middleware, one row per key in `<schema>.coordination`, on the server's clock. */
  createCoordinationStore(): PostgresCoordinationStore {
    return new PostgresCoordinationStore(this.#query, postgresCoordinationSql(quoteIdentifier(this.schema)));
  }

  /** Hands a delivery back unrun, due after `options.delayMs`, neither count changed. */
  async postpone(reservation: Reservation, options: PostponeOptions): Promise<void> {
    await postponePostgres(this.#query, postgresCoordinationSql(quoteIdentifier(this.schema)), this.#channel, reservation, options);
    if (options.delayMs === 0) this.#waiters.wakeOne(reservation.queue);
  }

  /** One statement through #run (open check, migration, error wrapping). */
  readonly #query: PostgresExecutor = (operation, text, values) => this.#run(operation, () => this.#pool.query(text, values));

  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    if (!Array.isArray(envelopes)) throw new InvalidArgumentError(`${DIALECT}: push: expected an array of envelopes`);
    let target: Queryable | undefined;
    if (options.transaction !== undefined) {
      if (typeof (options.transaction as Queryable | null)?.query !== 'function') {
        throw new InvalidArgumentError(`${DIALECT}: push: options.transaction must be a pg client (with query()) inside BEGIN`);
      }
      target = options.transaction as Queryable;
    }
    const { ids, queues, priorities, delays, uniqueKeys, bodies, groups, repeats } = pushColumns(envelopes, this.#maxMessageBytes);
    if (envelopes.length === 0) return { pushed: [], skipped: [] };
    const values = [ids, queues, priorities, delays, uniqueKeys, bodies, this.#channel, groups];
    return this.#run('push', async () => {
      let result: pg.QueryResult;
      if (target !== undefined || repeats) {
        result = await (target ?? this.#pool).query(this.#prepared('push', values));
      } else {
        // Outside the application's transaction a failed statement changed nothing, so the
        // plain insert can be tried first and `push` run when a concurrent push won a race.
        try {
          result = await this.#pool.query(this.#prepared('pushFresh', values));
        } catch (error) {
          if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
          result = await this.#pool.query(this.#prepared('push', values));
        }
      }
      const row = result.rows[0] as { stored: number; ids: string[] | null };
      if (!this.#closed) this.#analyzer.noteStored(row.stored);
      if (target === undefined) {
        for (const queue of new Set(queues)) this.#waiters.wakeOne(queue);
      }
      return splitStored(ids, row.ids);
    });
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    assertQueues(DIALECT, queues);
    assertMs(DIALECT, 'leaseMs', options.leaseMs, 1);
    assertMs(DIALECT, 'waitMs', options.waitMs, 0);
    return this.#run('reserve', async () => (await this.#claimWaiting(queues, options, 1))[0]);
  }

  async claim(queues: readonly string[], options: ClaimOptions): Promise<Reservation[]> {
    assertClaimArguments(DIALECT, queues, options);
    return this.#run('claim', () => this.#claimWaiting(queues, options, options.max));
  }

  async ack(reservation: Reservation, options: AckOptions = {}): Promise<void> {
    return this.#run('ack', () => this.#claims.ack(reservation, this.#kept(options.record)));
  }

  async ackAndClaim(acks: readonly Reservation[], queues: readonly string[], options: AckAndClaimOptions): Promise<AckAndClaimResult> {
    assertAckAndClaimArguments(DIALECT, acks, queues, options);
    const records = acks.map((_, index) => this.#kept(options.records?.[index]));
    const { leaseMs, max, holder } = options;
    const groups = checkGroupConcurrency(DIALECT, options.groupConcurrency);
    return this.#run('ackAndClaim', () => this.#claims.ackAndClaim(acks, records, queues, leaseMs, max, holder ?? null, groups));
  }

  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    assertMs(DIALECT, 'delayMs', options.delayMs, 0);
    return this.#run('release', () => this.#settle.release(reservation, options.delayMs, options.envelope));
  }

  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    if (!Array.isArray(reservations)) throw new InvalidArgumentError(`${DIALECT}: giveBack: expected an array of reservations`);
    return this.#run('giveBack', () => this.#settle.giveBack(reservations));
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    assertMs(DIALECT, 'leaseMs', leaseMs, 1);
    return this.#run('extend', () => this.#settle.extend(reservation, leaseMs));
  }

  async extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | 'cancelled' | undefined)[]> {
    if (!Array.isArray(reservations)) throw new InvalidArgumentError(`${DIALECT}: extendMany: expected an array of reservations`);
    assertMs(DIALECT, 'leaseMs', leaseMs, 1);
    return this.#run('extendMany', () => this.#settle.extendMany(reservations, leaseMs));
  }

  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    return this.#run('deadLetter', () => this.#settle.deadLetter(reservation, failure));
  }

  async stats(queue: string): Promise<QueueStats> {
    assertQueue(DIALECT, queue);
    return this.#run('stats', async () => {
      const { rows } = await this.#pool.query(this.#sql.stats, [queue]);
      const row = rows[0] as StatsRow;
      return {
        queue,
        ready: row.ready,
        delayed: row.delayed,
        reserved: row.reserved,
        dead: row.dead,
        oldestReadyAt: row.oldest_ready_at === null ? undefined : Math.round(row.oldest_ready_at),
        paused: row.paused,
        ...(this.#retention.completed ? { completed: row.completed } : {}),
      };
    });
  }

  async ping(): Promise<number> {
    return this.#run('ping', async () => {
      const started = performance.now();
      await this.#pool.query('SELECT 1');
      return performance.now() - started;
    });
  }

  async purge(queue: string): Promise<number> {
    assertQueue(DIALECT, queue);
    return this.#run('purge', async () => (await this.#pool.query(this.#sql.purge, [queue])).rowCount ?? 0);
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
      await this.#listener?.close();
      if (this.#ownsPool) await this.#pool.end().catch((error: unknown) => this.#backgroundError('close', error));
    })();
    return this.#closing;
  }

  /**
   * Claims up to `max` jobs, waiting up to `waitMs` for the first: woken by NOTIFY (or a push of
   * this driver), with a poll as fallback that is short while the listener is down.
   */
  async #claimWaiting(queues: readonly string[], options: ReserveOptions, max: number): Promise<Reservation[]> {
    const groups = checkGroupConcurrency(DIALECT, options.groupConcurrency);
    const deadline = Date.now() + options.waitMs;
    let woken = false;
    for (;;) {
      const seen = this.#notifications;
      const claimed = await this.#claims.claim(queues, options.leaseMs, max, options.holder ?? null, groups);
      const first = claimed[0];
      if (first !== undefined) {
        // More may be waiting: pass the wake-up on to the next idle claim.
        if (woken) this.#waiters.wakeOne(first.queue);
        return claimed;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.#closed || options.signal?.aborted) return [];
      if (seen !== this.#notifications) continue;
      const pollMs = this.#listener?.connected ? this.#pollIntervalMs : Math.min(this.#pollIntervalMs, 200);
      const reason = await this.#waiters.wait(queues, Math.min(remaining, pollMs), options.signal);
      if (reason === 'aborted' || this.#closed) return [];
      woken = reason === 'notified';
    }
  }

  /** The record an ack keeps: the one given, where completed jobs are kept. */
  #kept(record: string | undefined): string | null {
    return this.#retention.completed && record !== undefined ? record : null;
  }

  /** Runs an idempotent statement, once more on a fresh connection if the first one was lost. */
  async #retryOnConnectionLoss(query: () => Promise<pg.QueryResult>): Promise<pg.QueryResult> {
    try {
      return await query();
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      this.#errors++;
      return query();
    }
  }

  /** A named (server-side prepared) statement: parsed and planned once per connection. */
  #prepared(statement: PreparedStatement, values: unknown[]): pg.QueryConfig {
    return { name: `${this.#statementPrefix}${statement}`, text: this.#sql[statement], values };
  }

  /** Counts an error no caller waits for and hands it to `onBackgroundError`. */
  #backgroundError(operation: string, error: unknown): void {
    this.#errors++;
    this.#onBackgroundError(wrapError(DIALECT, operation, error));
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverClosedError(`${DIALECT}: the driver is closed`);
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    try {
      return await this.#inFlight.track(async () => {
        this.#ready ??= this.#initialise();
        await this.#ready;
        return await fn();
      });
    } catch (error) {
      throw wrapError(DIALECT, operation, error);
    }
  }

  async #initialise(): Promise<void> {
    try {
      if (this.#migrateMode === 'auto') await this.#schema.migrate(undefined);
      else await this.#schema.assertCurrent();
      await this.#listener?.start();
    } catch (error) {
      this.#ready = undefined;
      throw error;
    }
  }
}

/** The row of the stats statement. */
interface StatsRow {
  readonly ready: number;
  readonly delayed: number;
  readonly reserved: number;
  readonly dead: number;
  readonly completed: number;
  readonly paused: boolean;
  readonly oldest_ready_at: number | null;
}

/** Creates the PostgreSQL dialect of the database driver. */
export function createPostgresDriver(options: PostgresDriverOptions): PostgresDriver {
  return new PostgresDriver(options);
}
