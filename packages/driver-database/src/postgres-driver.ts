import { createHash, randomUUID } from 'node:crypto';
import {
  BASELINE_CAPABILITIES,
  ConfigError,
  type DeadLetterEntry,
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
import pg from 'pg';
import { quoteIdentifier, validateIdentifier } from './identifier.js';
import { assertMessageSize, resolveMaxMessageBytes } from './message-size.js';
import type { MigrateOptions, MigrationResult } from './migration.js';
import { PostgresListener } from './postgres-listener.js';
import type { PostgresDriverOptions } from './postgres-options.js';
import { PostgresRateLimitStore } from './postgres-rate-limit-store.js';
import { assertMs, assertQueue, assertQueues, type ClaimedRow, type DeadLetterRow, toDeadLetterEntry, toReservation } from './rows.js';
import { type PostgresSql, postgresSql } from './sql/postgres-sql.js';
import { Waiters } from './waiters.js';
import { isConnectionError, wrapError } from './wrap-error.js';

const DIALECT = 'postgres';
const MAX_SCHEMA_LENGTH = 50;
const MAX_ACK_BATCH = 1_000;
const MAX_CLAIM_BATCH = 100;
/** Distinct (queues, lease) claim groups remembered before idle ones are forgotten. */
const MAX_CLAIM_GROUPS = 256;

/**
 * Claiming ahead: once reserve() for one queue follows the ack of a job from that same queue
 * within AHEAD_WINDOW_MS, AHEAD_AFTER times in a row (a worker loop), the ack statement also claims
 * as many next jobs as it acknowledges, and the following reserve() calls take them without a
 * round trip. A claimed-ahead job nobody takes within AHEAD_HOLD_MS is given back with its delivery
 * uncounted; close() gives back whatever is left.
 */
const AHEAD_AFTER = 2;
/** A reserve() this soon after an ack of the same queue counts as a worker loop, in ms. */
const AHEAD_WINDOW_MS = 10;
/** How long a claimed-ahead job waits for its reserve() before it is given back, in ms. */
const AHEAD_HOLD_MS = 20;
/** Claimed-ahead jobs held per queue and lease at most. */
const AHEAD_MAX = 100;

/**
 * The claim is an index scan only while the planner knows the jobs table is large: a table that went
 * from empty to thousands of rows within autovacuum's minute is planned as a few rows, and each
 * claim then sorts the whole queue. So the driver that pushed at least this many rows, and at
 * least as many as the last analysis counted (the table may have doubled), analyzes it itself.
 */
const ANALYZE_AFTER_ROWS = 1_000;

/** Anything with pg's `query(text, values)`: a PoolClient inside the application's transaction. */
interface Queryable {
  query(text: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult>;
}

interface PendingClaim {
  readonly resolve: (reservation: Reservation | undefined) => void;
  readonly reject: (error: unknown) => void;
}

interface ClaimGroup {
  readonly key: string;
  readonly queues: readonly string[];
  readonly leaseMs: number;
  readonly pending: PendingClaim[];
  /** Claimed-ahead reservations waiting for a reserve() call, oldest first; given back after AHEAD_HOLD_MS. */
  readonly held: HoldQueue<Reservation>;
  /** performance.now() of the last ack of a job reserved through this group. */
  lastAckAt: number;
  /** Consecutive reserve() calls that came right after an ack. */
  streak: number;
  /**
   * How many claimed-ahead jobs this worker loop should find waiting: doubled when a reserve()
   * finds none held while an ack of the loop is still in flight (the loop outran its claims: it
   * went on while its jobs were being settled), halved when a held job is given back unasked.
   */
  target: number;
  /** Acks of jobs reserved through this group that have not settled yet. */
  acking: number;
  /**
   * How many jobs the pump claims at once, before handing out the rows that the last statement
   * returned: while the loop runs those, the database claims its next ones (see #ackAndClaim).
   */
  refill: number;
}

interface PendingAck {
  readonly id: string;
  readonly token: string;
  /** The claim group the reservation came from (single-queue groups only). */
  readonly group: ClaimGroup | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The PostgreSQL dialect: jobs in `<schema>.jobs`, claimed with `FOR UPDATE SKIP LOCKED` in
 * (priority, seq) order, leased through `reserved_until` with a fencing token per delivery, woken by
 * LISTEN/NOTIFY with a slow poll as fallback. Every time is the server's `now()`.
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
  readonly #channel: string;
  readonly #migrateMode: 'auto' | 'manual';
  readonly #pollIntervalMs: number;
  readonly #listener: PostgresListener | undefined;
  readonly #waiters = new Waiters();
  #ready: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #notifications = 0;
  readonly #claims = new Map<string, ClaimGroup>();
  /** Which single-queue claim group each live reservation came from (for claiming ahead). */
  readonly #origins = new WeakMap<Reservation, ClaimGroup>();
  readonly #statementPrefix: string;
  #acks: PendingAck[] = [];
  #pumping = false;
  /** A group's refill is due: the pump sends its next statement without yielding first. */
  #refilling = false;
  #errors = 0;
  #aheadClaimed = 0;
  #aheadGivenBack = 0;
  /** Rows pushed since the last ANALYZE of the jobs table, and the row count that analysis saw. */
  #pushedSinceAnalyze = 0;
  #analyzedRows = 0;
  #analyzing = false;

  constructor(options: PostgresDriverOptions) {
    if (typeof options !== 'object' || options === null) throw new ConfigError(`${DIALECT}: options: expected an object`);
    const hasUrl = options.connectionString !== undefined;
    const hasPool = options.pool !== undefined;
    if (hasUrl === hasPool) throw new ConfigError(`${DIALECT}: options: give exactly one of connectionString and pool`);
    if (hasUrl && (typeof options.connectionString !== 'string' || options.connectionString === '')) {
      throw new ConfigError(`${DIALECT}: options.connectionString: expected a non-empty string`);
    }
    if (hasPool && typeof (options.pool as { query?: unknown }).query !== 'function') {
      throw new ConfigError(`${DIALECT}: options.pool: expected a pg Pool`);
    }
    this.#maxMessageBytes = resolveMaxMessageBytes(DIALECT, options.maxMessageBytes);
    this.capabilities = Object.freeze({
      ...BASELINE_CAPABILITIES,
      delay: 'native',
      lease: 'native',
      blockingReserve: true,
      bulkPush: true,
      transactionalPush: true,
      uniqueKeys: true,
      rewriteOnRelease: true,
      maxMessageBytes: this.#maxMessageBytes,
    });
    this.schema = validateIdentifier(DIALECT, 'schema', options.schema ?? 'queuekit', MAX_SCHEMA_LENGTH);
    const migrate = options.migrate ?? 'auto';
    if (migrate !== 'auto' && migrate !== 'manual')
      throw new ConfigError(`${DIALECT}: options.migrate: expected 'auto' or 'manual', got ${JSON.stringify(migrate)}`);
    this.#migrateMode = migrate;
    const poll = options.pollIntervalMs ?? 1_000;
    if (!Number.isFinite(poll) || poll < 10)
      throw new ConfigError(`${DIALECT}: options.pollIntervalMs: expected a number >= 10, got ${JSON.stringify(poll)}`);
    this.#pollIntervalMs = poll;
    const poolSize = options.poolSize ?? 10;
    if (!Number.isInteger(poolSize) || poolSize < 1)
      throw new ConfigError(`${DIALECT}: options.poolSize: expected an integer >= 1, got ${JSON.stringify(poolSize)}`);

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
      this.#pool.on('error', () => {
        this.#errors++;
      });
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
            onError: () => {
              this.#errors++;
            },
          });
    this.deadLetters = this.#createDeadLetterStore();
  }

  /** Jobs claimed ahead for worker loops so far, and how many of them were given back (for diagnostics). */
  get claimedAhead(): { readonly claimed: number; readonly givenBack: number } {
    return { claimed: this.#aheadClaimed, givenBack: this.#aheadGivenBack };
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
      return await this.#migrate(options.to);
    } catch (error) {
      throw wrapError(DIALECT, 'migrate', error);
    }
  }

  /** The newest schema version this code knows. */
  get latestVersion(): number {
    return this.#sql.migrations[this.#sql.migrations.length - 1]?.version ?? 0;
  }

  /** A RateLimitStore keeping one row per bucket in `<schema>.rate_limits`, on the server's clock. */
  createRateLimitStore(): PostgresRateLimitStore {
    return new PostgresRateLimitStore((operation, text, values) => this.#run(operation, () => this.#pool.query(text, values)), this.#sql);
  }

  async push(envelopes: readonly JobEnvelope[], options: PushOptions = {}): Promise<PushResult> {
    if (!Array.isArray(envelopes)) throw new InvalidArgumentError(`${DIALECT}: push: expected an array of envelopes`);
    let target: Queryable | undefined;
    if (options.transaction !== undefined) {
      if (typeof (options.transaction as Queryable | null)?.query !== 'function') {
        throw new InvalidArgumentError(`${DIALECT}: push: options.transaction must be a pg client (with query()) inside BEGIN`);
      }
      target = options.transaction as Queryable;
    }
    const now = Date.now();
    const ids: string[] = [];
    const queues: string[] = [];
    const priorities: number[] = [];
    const delays: number[] = [];
    const uniqueKeys: (string | null)[] = [];
    const bodies: string[] = [];
    for (const envelope of envelopes) {
      assertQueue(DIALECT, envelope.queue);
      ids.push(envelope.id);
      queues.push(envelope.queue);
      priorities.push(envelope.priority);
      // The producer's clock only decides the delay; the due time itself is the server's now() + delay.
      delays.push(Math.max(0, envelope.availableAt - now));
      uniqueKeys.push(envelope.uniqueKey ?? null);
      const body = encodeEnvelope(envelope);
      assertMessageSize(DIALECT, envelope.id, body, this.#maxMessageBytes);
      bodies.push(body);
    }
    if (envelopes.length === 0) return { pushed: [], skipped: [] };
    return this.#run('push', async () => {
      const result = await (target ?? this.#pool).query(
        this.#prepared('push', [ids, queues, priorities, delays, uniqueKeys, bodies, this.#channel]),
      );
      const stored = new Set<string>(result.rows[0]?.ids ?? []);
      this.#noteGrowth(stored.size);
      if (target === undefined) {
        for (const queue of new Set(queues)) this.#waiters.wakeOne(queue);
      }
      return { pushed: ids.filter((id) => stored.has(id)), skipped: ids.filter((id) => !stored.has(id)) };
    });
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    assertQueues(DIALECT, queues);
    assertMs(DIALECT, 'leaseMs', options.leaseMs, 1);
    assertMs(DIALECT, 'waitMs', options.waitMs, 0);
    return this.#run('reserve', async () => {
      const deadline = Date.now() + options.waitMs;
      let woken = false;
      for (;;) {
        const seen = this.#notifications;
        const reservation = await this.#claim(queues, options.leaseMs);
        if (reservation !== undefined) {
          // More may be waiting: pass the wake-up on to the next idle reserve.
          if (woken) this.#waiters.wakeOne(reservation.queue);
          return reservation;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0 || this.#closed || options.signal?.aborted) return undefined;
        if (seen !== this.#notifications) continue;
        const pollMs = this.#listener?.connected ? this.#pollIntervalMs : Math.min(this.#pollIntervalMs, 200);
        const reason = await this.#waiters.wait(queues, Math.min(remaining, pollMs), options.signal);
        if (reason === 'aborted' || this.#closed) return undefined;
        woken = reason === 'notified';
      }
    });
  }

  async ack(reservation: Reservation): Promise<void> {
    return this.#run('ack', async () => {
      const group = this.#origins.get(reservation);
      if (group !== undefined) group.acking++;
      try {
        await new Promise<void>((resolve, reject) => {
          this.#acks.push({ id: reservation.id, token: reservation.token, group, resolve, reject });
          this.#kick();
        });
      } finally {
        if (group !== undefined) group.acking--;
      }
    });
  }

  async release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    assertMs(DIALECT, 'delayMs', options.delayMs, 0);
    const body = options.envelope === undefined ? null : encodeEnvelope(options.envelope);
    const priority = options.envelope?.priority ?? null;
    return this.#run('release', async () => {
      const { rows } = await this.#pool.query(
        this.#prepared('release', [reservation.id, reservation.token, options.delayMs, body, priority, this.#channel]),
      );
      const row = rows[0] as { changed: number; present: boolean };
      if (row.changed === 0) throw this.#leaseLost('release', reservation, row.present);
      if (options.delayMs === 0) this.#waiters.wakeOne(reservation.queue);
    });
  }

  async extend(reservation: Reservation, leaseMs: number): Promise<number> {
    assertMs(DIALECT, 'leaseMs', leaseMs, 1);
    return this.#run('extend', async () => {
      const { rows } = await this.#pool.query(this.#prepared('extend', [reservation.id, reservation.token, leaseMs]));
      const row = rows[0] as { lease_expires_at: number } | undefined;
      if (row === undefined) throw this.#leaseLost('extend', reservation, true);
      return row.lease_expires_at;
    });
  }

  async deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    return this.#run('deadLetter', async () => {
      const { rows } = await this.#pool.query(
        this.#prepared('deadLetter', [
          reservation.id,
          reservation.token,
          reservation.envelope?.name ?? null,
          reservation.envelope === undefined,
          failure.reason,
          JSON.stringify(failure.error),
          failure.attempts,
          Math.round(failure.firstFailedAt),
          Math.round(failure.failedAt),
        ]),
      );
      const row = rows[0] as { changed: number; present: boolean };
      if (row.changed === 0) throw this.#leaseLost('deadLetter', reservation, row.present);
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    assertQueue(DIALECT, queue);
    return this.#run('stats', async () => {
      const { rows } = await this.#pool.query(this.#sql.stats, [queue]);
      const row = rows[0] as { ready: number; delayed: number; reserved: number; dead: number; oldest_ready_at: number | null };
      return {
        queue,
        ready: row.ready,
        delayed: row.delayed,
        reserved: row.reserved,
        dead: row.dead,
        oldestReadyAt: row.oldest_ready_at === null ? undefined : Math.round(row.oldest_ready_at),
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

  async close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#waiters.wakeAll();
    this.#closing = (async () => {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      await this.#unclaim([...this.#claims.values()].flatMap((group) => group.held.drain()));
      await this.#listener?.close();
      if (this.#ownsPool) await this.#pool.end().catch(() => undefined);
    })();
    return this.#closing;
  }

  /**
   * Claims for one reserve call. Every claim and ack goes through one pump that keeps a single
   * statement in flight: whatever arrived meanwhile is served by the next one, which acknowledges
   * all pending acks and claims for all pending reserves of a queue at once (`LIMIT n`), so 50
   * worker slots cost one round trip per batch instead of two per job.
   */
  #claim(queues: readonly string[], leaseMs: number): Promise<Reservation | undefined> {
    const group = this.#groupOf(queues, leaseMs);
    if (group.queues.length === 1) {
      group.streak = performance.now() - group.lastAckAt <= AHEAD_WINDOW_MS ? group.streak + 1 : 0;
      const held = group.held.shift();
      if (held !== undefined) {
        return Promise.resolve(held);
      }
      if (group.streak >= AHEAD_AFTER && group.acking > 0) group.target = Math.min(AHEAD_MAX, group.target * 2);
    }
    const claimed = new Promise<Reservation | undefined>((resolve, reject) => group.pending.push({ resolve, reject }));
    this.#kick();
    return claimed;
  }

  #groupOf(queues: readonly string[], leaseMs: number): ClaimGroup {
    const key = `${leaseMs}\u0000${queues.join('\u0000')}`;
    let group = this.#claims.get(key);
    if (group === undefined) {
      // Callers with ever-changing leases would grow the map without bound: forget idle groups.
      if (this.#claims.size >= MAX_CLAIM_GROUPS) {
        for (const [k, g] of this.#claims) if (g.pending.length === 0 && g.held.length === 0) this.#claims.delete(k);
      }
      const created: ClaimGroup = {
        key,
        queues: [...queues],
        leaseMs,
        pending: [],
        held: new HoldQueue<Reservation>(AHEAD_HOLD_MS, (reservation) => {
          created.target = Math.max(1, Math.floor(created.target / 2));
          void this.#unclaim([reservation]);
        }),
        lastAckAt: Number.NEGATIVE_INFINITY,
        streak: 0,
        target: 1,
        acking: 0,
        refill: 0,
      };
      group = created;
      this.#claims.set(key, group);
    }
    return group;
  }

  /** Hands a claimed row to a caller, remembering its group for claiming ahead. */
  #deliver(group: ClaimGroup, row: ClaimedRow & { token: string }): Reservation {
    const reservation = toReservation(row, row.token);
    if (group.queues.length === 1) this.#origins.set(reservation, group);
    return reservation;
  }

  /** Serves waiting reserves of `group` from claimed rows (best first); keeps the rest for AHEAD_HOLD_MS. */
  #distribute(group: ClaimGroup, waiting: PendingClaim[], rows: (ClaimedRow & { token: string; priority: number; seq: number })[]): void {
    rows.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    for (const row of rows) {
      const reservation = this.#deliver(group, row);
      const next = waiting.shift() ?? group.pending.shift();
      if (next !== undefined) {
        next.resolve(reservation);
      } else {
        this.#aheadClaimed += 1;
        this.#hold(group, reservation);
      }
    }
  }

  /** Keeps a claimed-ahead reservation for the next reserve() of its group, for AHEAD_HOLD_MS at most. */
  #hold(group: ClaimGroup, reservation: Reservation): void {
    group.held.push(reservation);
    // A reserve() may be waiting for exactly this queue.
    this.#waiters.wakeOne(reservation.queue);
  }

  /** Gives claimed-ahead reservations back; failures only delay them until their lease runs out. */
  async #unclaim(reservations: readonly Reservation[]): Promise<void> {
    if (reservations.length === 0) return;
    try {
      const { rows } = await this.#pool.query(
        this.#prepared('unclaim', [reservations.map((r) => r.id), reservations.map((r) => r.token), this.#channel]),
      );
      this.#aheadGivenBack += (rows[0] as { returned: number }).returned;
      for (const queue of new Set(reservations.map((r) => r.queue))) this.#waiters.wakeOne(queue);
    } catch {
      this.#errors++;
    }
  }

  /** Counts pushed rows and analyzes the jobs table in the background once ANALYZE_AFTER_ROWS says so. */
  #noteGrowth(rows: number): void {
    this.#pushedSinceAnalyze += rows;
    if (this.#analyzing || this.#closed || this.#pushedSinceAnalyze < Math.max(ANALYZE_AFTER_ROWS, this.#analyzedRows)) return;
    this.#analyzing = true;
    this.#pushedSinceAnalyze = 0;
    this.#run('analyze', async () => {
      await this.#pool.query(this.#sql.analyzeJobs);
      const { rows: found } = await this.#pool.query(this.#sql.jobRows, [this.schema]);
      this.#analyzedRows = Math.max(0, Number((found[0] as { rows?: number } | undefined)?.rows ?? 0));
    })
      .catch(() => {
        this.#errors++;
      })
      .finally(() => {
        this.#analyzing = false;
      });
  }

  /** A named (server-side prepared) statement: parsed and planned once per connection. */
  #prepared(
    statement: 'claim' | 'ackOne' | 'exists' | 'ackBatch' | 'ackClaim' | 'unclaim' | 'push' | 'release' | 'extend' | 'deadLetter',
    values: unknown[],
  ): pg.QueryConfig {
    return { name: `${this.#statementPrefix}${statement}`, text: this.#sql[statement], values };
  }

  #kick(): void {
    if (!this.#pumping) void this.#pump();
  }

  /**
   * Runs claim and ack statements one at a time until nothing is pending. It counts as an operation
   * in flight, so close() waits for the rows its last statement claimed.
   */
  async #pump(): Promise<void> {
    this.#pumping = true;
    this.#inFlight++;
    try {
      for (;;) {
        // Let the callers that the last statement served run first: their acks and reserves then
        // join this statement instead of each costing one of their own (group commit). A refill
        // goes out at once instead: the rows it follows are handed out only after it was sent.
        if (!this.#refilling) await new Promise<void>((resolve) => setImmediate(resolve));
        this.#refilling = false;
        const acks = this.#acks.splice(0, MAX_ACK_BATCH);
        let group: ClaimGroup | undefined;
        for (const candidate of this.#claims.values()) {
          if (candidate.pending.length > 0 || candidate.refill > 0) {
            group = candidate;
            break;
          }
        }
        if (acks.length === 0 && group === undefined) break;
        const refill = group?.refill ?? 0;
        if (group !== undefined) group.refill = 0;
        // Reserves waiting during a refill are served by the rows about to be handed out.
        const waiting = group === undefined || refill > 0 ? [] : group.pending.splice(0, MAX_CLAIM_BATCH);
        try {
          let ahead = acks.length > 0 ? this.#aheadFor(acks, group) : undefined;
          if (refill > 0 && group !== undefined && (ahead === undefined || ahead.group === group)) {
            const count = Math.max(ahead?.count ?? 0, Math.min(refill, AHEAD_MAX - group.held.length));
            ahead = count > 0 ? { group, count } : undefined;
          }
          if (ahead !== undefined) {
            await this.#ackAndClaim(acks, ahead.group, ahead.group === group ? waiting : [], ahead.count);
            if (group !== undefined && ahead.group !== group) await this.#claimFor(group, waiting);
          } else {
            if (acks.length > 0) this.#settleAcks(acks, await this.#ackBatch(acks));
            if (group !== undefined) await this.#claimFor(group, waiting);
          }
        } catch (error) {
          for (const pending of acks) pending.reject(error);
          for (const pending of waiting) pending.reject(error);
        }
      }
    } finally {
      this.#pumping = false;
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#drained !== undefined) this.#drained();
    }
  }

  /** Claims for the waiting reserves of one group, queue by queue in their order. */
  async #claimFor(group: ClaimGroup, waiting: PendingClaim[]): Promise<void> {
    for (const queue of group.queues) {
      if (waiting.length === 0) break;
      const prefix = randomUUID();
      const { rows } = await this.#pool.query(this.#prepared('claim', [queue, group.leaseMs, prefix, waiting.length]));
      const claimed = rows as (ClaimedRow & { token: string; priority: number; seq: number })[];
      const served = waiting.splice(0, claimed.length);
      this.#distribute(group, served, claimed);
    }
    for (const pending of waiting) pending.resolve(undefined);
  }

  /** One statement: acknowledge `acks`, claim for `waiting` plus `ahead` more of the group's queue. */
  async #ackAndClaim(acks: readonly PendingAck[], group: ClaimGroup, waiting: PendingClaim[], ahead: number): Promise<void> {
    const prefix = randomUUID();
    const count = Math.min(MAX_CLAIM_BATCH, waiting.length + ahead);
    let rows: (ClaimedRow & { claimed: boolean; token: string; priority: number; seq: number })[];
    try {
      ({ rows } = await this.#pool.query(
        this.#prepared('ackClaim', [acks.map((p) => p.id), acks.map((p) => p.token), group.queues[0], group.leaseMs, prefix, count]),
      ));
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      // The connection went with the statement: settle the acks on their own (idempotent, retried),
      // and let the waiting reserves claim again. Rows the lost statement may have claimed come back
      // when their lease runs out.
      this.#errors++;
      this.#settleAcks(acks, await this.#ackBatch(acks));
      group.pending.unshift(...waiting);
      return;
    }
    const lost = new Set<string>();
    const claimed: (ClaimedRow & { token: string; priority: number; seq: number })[] = [];
    for (const row of rows) {
      if (row.claimed) claimed.push(row);
      else lost.add(`${row.job_id}\u0000${row.token}`);
    }
    // Rows are handed out (or held) before the acks resolve, so that a close() waiting for those
    // acks finds every held row and gives it back.
    const handOut = () => {
      this.#distribute(group, waiting, claimed);
      for (const pending of waiting) pending.resolve(undefined);
      this.#settleAcks(acks, lost);
    };
    const consuming = acks.length > 0 || waiting.length > 0 || this.#acks.some((pending) => pending.group === group);
    if (claimed.length > 0 && consuming && group.streak >= AHEAD_AFTER && !this.#closed) {
      // Pipelining for a worker loop: the pump sends the next statement (claiming as many again,
      // with whatever acks are pending) before these rows are handed out, so the database claims
      // while the loop runs them instead of each waiting for the other. Refills follow the loop's
      // acks: a statement that served none and found none pending asks for no other.
      group.refill = claimed.length;
      this.#refilling = true;
      setImmediate(handOut);
    } else {
      handOut();
    }
  }

  #settleAcks(acks: readonly PendingAck[], lost: ReadonlySet<string>): void {
    const now = performance.now();
    for (const pending of acks) {
      if (lost.has(`${pending.id}\u0000${pending.token}`)) {
        pending.reject(new LeaseLostError(`${DIALECT}: ack: job ${pending.id} is held by another delivery (its lease was lost)`));
      } else {
        if (pending.group !== undefined) pending.group.lastAckAt = now;
        pending.resolve();
      }
    }
  }

  /**
   * The single-queue group to claim for in the same statement as these acks: the one with waiting
   * reserves, or a worker loop whose acks predict reserves about to come. `count` is how many to
   * claim beyond the waiting ones.
   */
  #aheadFor(acks: readonly PendingAck[], waitingGroup: ClaimGroup | undefined): { group: ClaimGroup; count: number } | undefined {
    if (this.#closed) return undefined;
    const counts = new Map<ClaimGroup, number>();
    let best: ClaimGroup | undefined;
    for (const pending of acks) {
      const group = pending.group;
      if (group === undefined || group.streak < AHEAD_AFTER) continue;
      const count = (counts.get(group) ?? 0) + 1;
      counts.set(group, count);
      if (best === undefined || count > (counts.get(best) ?? 0)) best = group;
    }
    if (waitingGroup !== undefined && waitingGroup.queues.length === 1 && (best === undefined || best === waitingGroup)) {
      return { group: waitingGroup, count: this.#aheadCount(waitingGroup, counts.get(waitingGroup) ?? 0) };
    }
    if (best === undefined) return undefined;
    const count = this.#aheadCount(best, counts.get(best) ?? 0);
    return count > 0 ? { group: best, count } : undefined;
  }

  /** Jobs to claim ahead for a loop that acknowledges `acked` now: one per ack, or up to its target. */
  #aheadCount(group: ClaimGroup, acked: number): number {
    if (acked === 0) return 0;
    const room = Math.max(0, AHEAD_MAX - group.held.length);
    return Math.min(room, Math.max(acked, group.target - group.held.length));
  }

  async #ackBatch(batch: readonly PendingAck[]): Promise<Set<string>> {
    const only = batch.length === 1 ? batch[0] : undefined;
    if (only !== undefined) {
      const deleted = await this.#retryOnConnectionLoss(() => this.#pool.query(this.#prepared('ackOne', [only.id, only.token])));
      if (deleted.rowCount === 1) return new Set();
      const { rows } = await this.#pool.query(this.#prepared('exists', [only.id]));
      return rows.length === 0 ? new Set() : new Set([`${only.id}\u0000${only.token}`]);
    }
    const values = [batch.map((p) => p.id), batch.map((p) => p.token)];
    const result = await this.#retryOnConnectionLoss(() => this.#pool.query(this.#prepared('ackBatch', values)));
    return new Set(result.rows.map((row: { job_id: string; token: string }) => `${row.job_id}\u0000${row.token}`));
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

  #leaseLost(operation: string, reservation: Reservation, present: boolean): LeaseLostError {
    return new LeaseLostError(
      present
        ? `${DIALECT}: ${operation}: job ${reservation.id} is held by another delivery (its lease was lost)`
        : `${DIALECT}: ${operation}: job ${reservation.id} is gone (its lease was lost and the job settled)`,
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverClosedError(`${DIALECT}: the driver is closed`);
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    this.#inFlight++;
    try {
      this.#ready ??= this.#initialise();
      await this.#ready;
      return await fn();
    } catch (error) {
      throw wrapError(DIALECT, operation, error);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#drained !== undefined) this.#drained();
    }
  }

  async #initialise(): Promise<void> {
    try {
      if (this.#migrateMode === 'auto') {
        await this.#migrate(undefined);
      } else {
        const version = await this.#currentVersion(this.#pool);
        if (version !== this.latestVersion) {
          throw new DriverError(
            `${DIALECT}: schema "${this.schema}" is at version ${version} but this code needs version ${this.latestVersion}; ` +
              `run \`queue migrate\` (driver.migrate()) first${version > this.latestVersion ? ' — the database is newer than the code: upgrade @queuekit/driver-database' : ''}`,
          );
        }
      }
      await this.#listener?.start();
    } catch (error) {
      this.#ready = undefined;
      throw error;
    }
  }

  async #currentVersion(client: Queryable): Promise<number> {
    const { rows } = await client.query(this.#sql.migrationsTableExists, [`${quoteIdentifier(this.schema)}.schema_migrations`]);
    if (!rows[0]?.present) return 0;
    return (await client.query(this.#sql.currentVersion)).rows[0]?.version ?? 0;
  }

  async #migrate(to: number | undefined): Promise<MigrationResult> {
    const target = to ?? this.latestVersion;
    if (!Number.isInteger(target) || target < 0 || target > this.latestVersion) {
      throw new InvalidArgumentError(
        `${DIALECT}: migrate: options.to: expected an integer 0..${this.latestVersion}, got ${JSON.stringify(to)}`,
      );
    }
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(this.#sql.migrationLock, [`queuekit:migrate:${this.schema}`]);
      const from = await this.#currentVersion(client);
      if (from > this.latestVersion) {
        throw new DriverError(
          `${DIALECT}: schema "${this.schema}" is at version ${from}, newer than the newest this code knows (${this.latestVersion}); upgrade @queuekit/driver-database`,
        );
      }
      const applied: number[] = [];
      if (from < target) {
        for (const statement of this.#sql.migrationsTable) await client.query(statement);
        for (const migration of this.#sql.migrations) {
          if (migration.version <= from || migration.version > target) continue;
          for (const statement of migration.statements) await client.query(statement);
          await client.query(this.#sql.recordMigration, [migration.version, migration.name]);
          applied.push(migration.version);
        }
      }
      await client.query('COMMIT');
      return { from, to: Math.max(from, target), applied };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  #createDeadLetterStore(): DeadLetterStore {
    const sql = this.#sql;
    const pool = this.#pool;
    const filterValues = (filter: DeadLetterFilter = {}) => {
      if (filter.queue !== undefined) assertQueue(DIALECT, filter.queue);
      return [filter.queue ?? null, filter.failedBefore === undefined ? null : Math.round(filter.failedBefore)];
    };
    const retry = async (filter: DeadLetterFilter, id: string | null) => {
      const { rows } = await pool.query(sql.dlqRetry, [...filterValues(filter), id, this.#channel]);
      const row = rows[0] as { moved: number; picked: number };
      return row;
    };
    return {
      list: (options: DeadLetterListOptions = {}) =>
        this.#run('deadLetters.list', async () => {
          const limit = options.limit ?? 100;
          const offset = options.offset ?? 0;
          assertMs(DIALECT, 'limit', limit, 0);
          assertMs(DIALECT, 'offset', offset, 0);
          const { rows } = await pool.query(sql.dlqList, [...filterValues(options), Math.floor(limit), Math.floor(offset)]);
          return (rows as DeadLetterRow[]).map(toDeadLetterEntry);
        }),
      get: (id: string) =>
        this.#run('deadLetters.get', async (): Promise<DeadLetterEntry | undefined> => {
          const { rows } = await pool.query(sql.dlqGet, [id]);
          const row = rows[0] as DeadLetterRow | undefined;
          return row === undefined ? undefined : toDeadLetterEntry(row);
        }),
      retry: (id: string) =>
        this.#run('deadLetters.retry', async () => {
          const { rows } = await pool.query(sql.dlqGet, [id]);
          const row = rows[0] as DeadLetterRow | undefined;
          if (row === undefined) return false;
          if (row.poison === true)
            throw new InvalidArgumentError(`${DIALECT}: deadLetters.retry: job ${id} is a poison body and cannot be retried`);
          const { moved } = await retry({}, id);
          if (moved === 0) {
            throw new InvalidArgumentError(
              `${DIALECT}: deadLetters.retry: job ${id} cannot be retried while a live job holds its id or unique key`,
            );
          }
          this.#waiters.wakeOne(row.queue);
          return true;
        }),
      retryAll: (filter: DeadLetterFilter = {}) =>
        this.#run('deadLetters.retryAll', async () => {
          const { moved } = await retry(filter, null);
          this.#waiters.wakeAll();
          return moved;
        }),
      purge: (filter: DeadLetterFilter = {}) =>
        this.#run('deadLetters.purge', async () => (await pool.query(sql.dlqPurge, filterValues(filter))).rowCount ?? 0),
      count: (filter: DeadLetterFilter = {}) =>
        this.#run(
          'deadLetters.count',
          async () => ((await pool.query(sql.dlqCount, filterValues(filter))).rows[0] as { count: number }).count,
        ),
    };
  }
}

/** Creates the PostgreSQL dialect of the database driver. */
export function createPostgresDriver(options: PostgresDriverOptions): PostgresDriver {
  return new PostgresDriver(options);
}
