import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterListOptions,
  type DeadLetterReason,
  type DeadLetterStore,
  DriverError,
  type ErrorInfo,
  InvalidArgumentError,
  type JobEnvelope,
  type JobFailure,
  type Reservation,
} from '@queuekit/core';
import { deadLetterIds, deadLetterPaging, fromBackend } from '@queuekit/core/driver';
import type { BeanstalkClient } from './client/beanstalk-client.js';
import type { ReserverPool } from './reserver-pool.js';
import type { Tubes } from './tubes.js';

/** What the store needs from its driver. */
export interface DeadLetterContext {
  /** The connection for puts, peeks and deletes. */
  readonly admin: BeanstalkClient;
  /** Where a scan gets a connection of its own (it reserves every record). */
  readonly pool: ReserverPool;
  readonly tubes: Tubes;
  /** The largest job body the server takes (a record must fit). */
  readonly maxJobBytes: () => number;
  /** The time-to-run of retried jobs, in seconds. */
  readonly ttrSeconds: number;
  run<T>(action: string, fn: () => Promise<T>): Promise<T>;
}

/** The failure record of one dead letter: a job in the records tube. */
interface DeadLetterRecord {
  readonly v: 1;
  readonly id: string;
  readonly queue: string;
  readonly name?: string;
  /** The beanstalkd id of the buried job (which keeps the body). */
  readonly job: number;
  readonly reason: DeadLetterReason;
  readonly error: ErrorInfo;
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly failedAt: number;
}

/** A record as a scan holds it: its own beanstalkd id and content. */
interface HeldRecord {
  readonly recordId: number;
  readonly record: DeadLetterRecord;
}

/** A scan reserves every record for at most this long (the TTR of records, in seconds). */
const RECORD_TTR_SECONDS = 60;
/** Records reserved per round trip while scanning. */
const SCAN_BATCH = 200;
/** A scan that finds records held by another scan tries again this many times. */
const SCAN_TRIES = 40;
/** Error text kept in a record, so that it fits beanstalkd's job size. */
const MAX_MESSAGE_CHARS = 2_000;
const MAX_STACK_CHARS = 8_000;

/**
 * Dead letters on beanstalkd: the job itself is buried in its tube (so `stats-tube` counts it and
 * beanstalkd's own tools see it), and a failure record (id, queue, reason, error, attempts, times,
 * the buried job's id) is put into one records tube no worker watches. beanstalkd can only list a
 * tube's jobs by reserving them, so reading the store is a scan: one connection reserves every
 * record, reads them, settles what the call changes and releases the rest. A scan that sees records
 * reserved by another scan gives its own back and tries again, so each scan sees them all.
 */
export class BeanstalkDeadLetterStore implements DeadLetterStore {
  readonly #c: DeadLetterContext;

  constructor(context: DeadLetterContext) {
    this.#c = context;
  }

  /** Puts the failure record of a job about to be buried; resolves the record's id. */
  async record(reservation: Reservation, failure: JobFailure, jobId: number): Promise<number> {
    const record: DeadLetterRecord = {
      v: 1,
      id: reservation.id,
      queue: reservation.queue,
      ...(reservation.envelope === undefined ? {} : { name: reservation.envelope.name }),
      job: jobId,
      reason: failure.reason,
      error: trimmed(failure.error),
      attempts: failure.attempts,
      firstFailedAt: failure.firstFailedAt,
      failedAt: failure.failedAt,
    };
    let body = Buffer.from(JSON.stringify(record));
    if (body.length > this.#c.maxJobBytes()) {
      body = Buffer.from(JSON.stringify({ ...record, error: { name: record.error.name, message: record.error.message.slice(0, 200) } }));
    }
    const { admin, tubes } = this.#c;
    const [, recordId] = await Promise.all([admin.use(tubes.deadLetters), admin.put(0, 0, RECORD_TTR_SECONDS, body)]);
    return recordId;
  }

  /** Removes a record put for a job that could not be buried after all. */
  async unrecord(recordId: number): Promise<void> {
    await this.#c.admin.delete(recordId);
  }

  async list(options: DeadLetterListOptions = {}): Promise<DeadLetterEntry[]> {
    const { limit, offset } = deadLetterPaging('beanstalk', options);
    return this.#c.run('deadLetters.list', () =>
      this.#scan(async (records) => {
        const page = newestFirst(records.filter(matches(options))).slice(offset, offset + limit);
        return { result: await Promise.all(page.map((held) => this.#entry(held))), remove: [] };
      }),
    );
  }

  async get(id: string): Promise<DeadLetterEntry | undefined> {
    return this.#c.run('deadLetters.get', () =>
      this.#scan(async (records) => {
        const held = newestFirst(records.filter((r) => r.record.id === id))[0];
        return { result: held === undefined ? undefined : await this.#entry(held), remove: [] };
      }),
    );
  }

  async retry(id: string): Promise<boolean> {
    return this.#c.run('deadLetters.retry', () =>
      this.#scan(async (records) => {
        const found = records.filter((r) => r.record.id === id);
        if (found.length === 0) return { result: false, remove: [] };
        const bodies = await Promise.all(found.map((held) => this.#retryable(held)));
        const body = bodies[0];
        if (body === undefined) {
          throw new InvalidArgumentError(`beanstalk: dead letter ${id} has a body that cannot be decoded (poison) and cannot be retried`);
        }
        await this.#requeue(found[0] as HeldRecord, body);
        return { result: true, remove: found };
      }),
    );
  }

  async retryAll(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#c.run('deadLetters.retryAll', () =>
      this.#scan(async (records) => {
        const done: HeldRecord[] = [];
        const seen = new Set<string>();
        for (const held of newestFirst(records.filter(matches(filter)))) {
          if (seen.has(held.record.id)) {
            done.push(held);
            continue;
          }
          const body = await this.#retryable(held);
          if (body === undefined) continue;
          await this.#requeue(held, body);
          seen.add(held.record.id);
          done.push(held);
        }
        return { result: seen.size, remove: done };
      }),
    );
  }

  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#c.run('deadLetters.purge', () =>
      this.#scan(async (records) => {
        const matching = records.filter(matches(filter));
        await Promise.all(matching.map((held) => this.#c.admin.delete(held.record.job)));
        return { result: new Set(matching.map((r) => r.record.id)).size, remove: matching };
      }),
    );
  }

  async purgeIds(ids: readonly string[]): Promise<number> {
    const wanted = new Set(deadLetterIds('beanstalk', ids));
    return this.#c.run('deadLetters.purgeIds', () =>
      this.#scan(async (records) => {
        const matching = wanted.size === 0 ? [] : records.filter((held) => wanted.has(held.record.id));
        await Promise.all(matching.map((held) => this.#c.admin.delete(held.record.job)));
        return { result: new Set(matching.map((r) => r.record.id)).size, remove: matching };
      }),
    );
  }

  async count(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#c.run('deadLetters.count', () =>
      this.#scan(async (records) => ({ result: new Set(records.filter(matches(filter)).map((r) => r.record.id)).size, remove: [] })),
    );
  }

  /** The body to put back for `held`, or undefined for a poison body (or one that is gone). */
  async #retryable(held: HeldRecord): Promise<Buffer | undefined> {
    const job = await this.#c.admin.peek(held.record.job);
    if (job === undefined) {
      throw new DriverError(`beanstalk: dead letter ${held.record.id}: its buried job ${held.record.job} is gone, so its body is lost`);
    }
    try {
      fromBackend(job.body);
      return job.body;
    } catch {
      return undefined;
    }
  }

  /** Puts the body back as a new job (fresh counts), then deletes the buried one. */
  async #requeue(held: HeldRecord, body: Buffer): Promise<void> {
    const { admin, tubes } = this.#c;
    const envelope = fromBackend(body);
    await Promise.all([admin.use(tubes.of(held.record.queue)), admin.put(envelope.priority, 0, this.#c.ttrSeconds, body)]);
    await admin.delete(held.record.job);
  }

  async #entry(held: HeldRecord): Promise<DeadLetterEntry> {
    const { record } = held;
    const job = await this.#c.admin.peek(record.job);
    let envelope: JobEnvelope | undefined;
    let raw: string | undefined;
    if (job !== undefined) {
      try {
        envelope = fromBackend(job.body);
      } catch {
        raw = job.body.toString('utf8');
      }
    }
    return {
      id: record.id,
      queue: record.queue,
      name: envelope?.name ?? record.name,
      envelope,
      ...(raw === undefined ? {} : { raw }),
      reason: record.reason,
      error: record.error,
      attempts: record.attempts,
      firstFailedAt: record.firstFailedAt,
      failedAt: record.failedAt,
    };
  }

  /**
   * Reserves every record on a connection of its own, runs `use` on them, deletes the records it
   * says to remove and releases the rest.
   */
  async #scan<T>(use: (records: HeldRecord[]) => Promise<{ result: T; remove: readonly HeldRecord[] }>): Promise<T> {
    const tube = this.#c.tubes.deadLetters;
    const client = this.#c.pool.acquire([tube]);
    try {
      await client.watchOnly([tube]);
      const records: HeldRecord[] = [];
      const unreadable: number[] = [];
      for (let attempt = 0; ; attempt += 1) {
        await reserveAll(client, records, unreadable);
        const stats = await client.statsTube(tube);
        const reservedElsewhere = Number(stats?.get('current-jobs-reserved') ?? 0) - records.length - unreadable.length;
        // Ready again by now: released by a scan that ended meanwhile, or put since; take them too.
        if (reservedElsewhere <= 0 && Number(stats?.get('current-jobs-ready') ?? 0) > 0 && attempt + 1 < SCAN_TRIES) continue;
        if (reservedElsewhere <= 0) {
          let outcome: { result: T; remove: readonly HeldRecord[] };
          try {
            outcome = await use(records);
          } catch (error) {
            await releaseAll(client, [...records.map((r) => r.recordId), ...unreadable]);
            throw error;
          }
          const removed = new Set(outcome.remove.map((r) => r.recordId));
          await Promise.all([
            ...[...removed].map((id) => client.delete(id)),
            releaseAll(
              client,
              [...records.map((r) => r.recordId), ...unreadable].filter((id) => !removed.has(id)),
            ),
          ]);
          return outcome.result;
        }
        await releaseAll(client, [...records.map((r) => r.recordId), ...unreadable]);
        records.length = 0;
        unreadable.length = 0;
        if (attempt + 1 >= SCAN_TRIES) {
          throw new DriverError(
            `beanstalk: dead letters: ${reservedElsewhere} record(s) stay reserved by another scan or a client outside queuekit (tube ${tube}); try again`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 100));
      }
    } finally {
      this.#c.pool.done(client);
    }
  }
}

/** Reserves every ready record of the watched records tube, a batch per round trip, adding to `records` and `unreadable`. */
async function reserveAll(client: BeanstalkClient, records: HeldRecord[], unreadable: number[]): Promise<void> {
  for (;;) {
    const outcomes = await Promise.all(Array.from({ length: SCAN_BATCH }, () => client.reserveWithTimeout(0)));
    let more = true;
    for (const outcome of outcomes) {
      if (typeof outcome !== 'object') {
        more = false;
        continue;
      }
      const record = parseRecord(outcome.body);
      if (record === undefined) unreadable.push(outcome.id);
      else records.push({ recordId: outcome.id, record });
    }
    if (!more) return;
  }
}

async function releaseAll(client: BeanstalkClient, recordIds: readonly number[]): Promise<void> {
  await Promise.all(recordIds.map((id) => client.release(id, 0, 0)));
}

function parseRecord(body: Buffer): DeadLetterRecord | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as Partial<DeadLetterRecord>;
    if (value.v !== 1 || typeof value.id !== 'string' || typeof value.queue !== 'string' || typeof value.job !== 'number') return undefined;
    return value as DeadLetterRecord;
  } catch {
    return undefined;
  }
}

function matches(filter: DeadLetterFilter): (held: HeldRecord) => boolean {
  return ({ record }) =>
    (filter.queue === undefined || record.queue === filter.queue) &&
    (filter.failedBefore === undefined || record.failedAt < filter.failedBefore);
}

/** Most recently failed first; among equal times the later record first. */
function newestFirst(records: HeldRecord[]): HeldRecord[] {
  return [...records].sort((a, b) => b.record.failedAt - a.record.failedAt || b.recordId - a.recordId);
}

function trimmed(error: ErrorInfo): ErrorInfo {
  return {
    ...error,
    message: error.message.length > MAX_MESSAGE_CHARS ? `${error.message.slice(0, MAX_MESSAGE_CHARS)}…` : error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack.slice(0, MAX_STACK_CHARS) }),
  };
}
