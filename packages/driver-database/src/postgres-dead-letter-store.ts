import type { DeadLetterEntry, DeadLetterFilter, DeadLetterListOptions, DeadLetterStore } from '@queuekit/core';
import { InvalidArgumentError } from '@queuekit/core';
import { deadLetterIds } from '@queuekit/core/driver';
import type pg from 'pg';
import { assertMs, assertQueue, type DeadLetterRow, toDeadLetterEntry } from './rows.js';
import type { PostgresSql } from './sql/postgres-sql.js';

const DIALECT = 'postgres';

/** What the store borrows from its driver. */
export interface PostgresDeadLetterStoreContext {
  readonly pool: pg.Pool;
  readonly sql: PostgresSql;
  /** The NOTIFY channel retried jobs are announced on. */
  readonly channel: string;
  /** Runs one operation the way the driver runs its own (open check, migration, error wrapping). */
  run<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  /** Wakes this process's waiting claims for `queue`, or for every queue when undefined. */
  wake(queue: string | undefined): void;
}

/**
 * The PostgreSQL dead-letter store: rows of `<schema>.failed_jobs`, newest failure first. A retry
 * moves an entry back into `jobs` as a fresh job (both counts 0) in one statement.
 */
export class PostgresDeadLetterStore implements DeadLetterStore {
  readonly #context: PostgresDeadLetterStoreContext;

  constructor(context: PostgresDeadLetterStoreContext) {
    this.#context = context;
  }

  list(options: DeadLetterListOptions = {}): Promise<DeadLetterEntry[]> {
    return this.#context.run('deadLetters.list', async () => {
      const limit = options.limit ?? 100;
      const offset = options.offset ?? 0;
      assertMs(DIALECT, 'limit', limit, 0);
      assertMs(DIALECT, 'offset', offset, 0);
      const { rows } = await this.#context.pool.query(this.#context.sql.dlqList, [
        ...filterValues(options),
        Math.floor(limit),
        Math.floor(offset),
      ]);
      return (rows as DeadLetterRow[]).map(toDeadLetterEntry);
    });
  }

  get(id: string): Promise<DeadLetterEntry | undefined> {
    return this.#context.run('deadLetters.get', async () => {
      const row = await this.#row(id);
      return row === undefined ? undefined : toDeadLetterEntry(row);
    });
  }

  retry(id: string): Promise<boolean> {
    return this.#context.run('deadLetters.retry', async () => {
      const row = await this.#row(id);
      if (row === undefined) return false;
      if (row.poison === true)
        throw new InvalidArgumentError(`${DIALECT}: deadLetters.retry: job ${id} is a poison body and cannot be retried`);
      if ((await this.#move({}, id)) === 0) {
        throw new InvalidArgumentError(
          `${DIALECT}: deadLetters.retry: job ${id} cannot be retried while a live job holds its id or unique key`,
        );
      }
      this.#context.wake(row.queue);
      return true;
    });
  }

  retryAll(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#context.run('deadLetters.retryAll', async () => {
      const moved = await this.#move(filter, null);
      this.#context.wake(undefined);
      return moved;
    });
  }

  purge(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#context.run(
      'deadLetters.purge',
      async () => (await this.#context.pool.query(this.#context.sql.dlqPurge, filterValues(filter))).rowCount ?? 0,
    );
  }

  async purgeIds(ids: readonly string[]): Promise<number> {
    const unique = deadLetterIds(DIALECT, ids);
    return this.#context.run('deadLetters.purgeIds', async () =>
      unique.length === 0 ? 0 : ((await this.#context.pool.query(this.#context.sql.dlqPurgeIds, [unique])).rowCount ?? 0),
    );
  }

  count(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#context.run('deadLetters.count', async () => {
      const { rows } = await this.#context.pool.query(this.#context.sql.dlqCount, filterValues(filter));
      return (rows[0] as { count: number }).count;
    });
  }

  async #row(id: string): Promise<DeadLetterRow | undefined> {
    const { rows } = await this.#context.pool.query(this.#context.sql.dlqGet, [id]);
    return rows[0] as DeadLetterRow | undefined;
  }

  /** Moves matching entries (or the one with `id`) back to their queues; resolves how many moved. */
  async #move(filter: DeadLetterFilter, id: string | null): Promise<number> {
    const { rows } = await this.#context.pool.query(this.#context.sql.dlqRetry, [...filterValues(filter), id, this.#context.channel]);
    return (rows[0] as { moved: number }).moved;
  }
}

/** The ($1 queue, $2 failed-before) parameters of a filter. */
function filterValues(filter: DeadLetterFilter = {}): [string | null, number | null] {
  if (filter.queue !== undefined) assertQueue(DIALECT, filter.queue);
  return [filter.queue ?? null, filter.failedBefore === undefined ? null : Math.round(filter.failedBefore)];
}
