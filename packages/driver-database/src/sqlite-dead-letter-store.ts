import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterListOptions,
  type DeadLetterStore,
  InvalidArgumentError,
} from '@queuekit/core';
import { deadLetterIds } from '@queuekit/core/driver';
import { assertMs, assertQueue, type DeadLetterRow, toDeadLetterEntry } from './rows.js';
import { registerLanes } from './sqlite-group-claims.js';
import type { SqliteStatements } from './sqlite-statements.js';

const DIALECT = 'sqlite';

/** Runs `fn` through the driver (open check, migration, error wrapping) on its open database. */
export type SqliteRunner = <T>(operation: string, fn: (db: SqliteStatements) => T) => Promise<T>;

/** A failed_jobs row `dlqPick` returns for retrying. */
interface RetryRow {
  readonly job_id: string;
  readonly queue: string;
  readonly priority: number;
  readonly unique_key: string | null;
  readonly body: string;
  readonly group_key: string | null;
}

/**
 * The dead letters of the SQLite dialect, kept in `<prefix>failed_jobs`. A retried entry goes back
 * to the jobs table as a fresh job (both counts 0, no lease), in the transaction that deletes it.
 */
export class SqliteDeadLetterStore implements DeadLetterStore {
  readonly #run: SqliteRunner;
  readonly #wake: (queue: string) => void;

  /** Internal: the driver's `deadLetters`. `wake` tells waiting reserves that `queue` has work. */
  constructor(run: SqliteRunner, wake: (queue: string) => void) {
    this.#run = run;
    this.#wake = wake;
  }

  list(options: DeadLetterListOptions = {}): Promise<DeadLetterEntry[]> {
    return this.#run('deadLetters.list', (db) => {
      const limit = options.limit ?? 100;
      const offset = options.offset ?? 0;
      assertMs(DIALECT, 'limit', limit, 0);
      assertMs(DIALECT, 'offset', offset, 0);
      const values = { ...filterValues(options), limit: Math.floor(limit), offset: Math.floor(offset) };
      return (db.get('dlqList').all(values) as DeadLetterRow[]).map(toDeadLetterEntry);
    });
  }

  get(id: string): Promise<DeadLetterEntry | undefined> {
    return this.#run('deadLetters.get', (db) => {
      const row = db.get('dlqGet').get({ job_id: id }) as DeadLetterRow | undefined;
      return row === undefined ? undefined : toDeadLetterEntry(row);
    });
  }

  retry(id: string): Promise<boolean> {
    return this.#run('deadLetters.retry', (db) => {
      const row = db.get('dlqGet').get({ job_id: id }) as DeadLetterRow | undefined;
      if (row === undefined) return false;
      if (row.poison === 1)
        throw new InvalidArgumentError(`${DIALECT}: deadLetters.retry: job ${id} is a poison body and cannot be retried`);
      if (this.#retry(db, { queue: null, failed_before: null }, id) === 0) {
        throw new InvalidArgumentError(
          `${DIALECT}: deadLetters.retry: job ${id} cannot be retried while a live job holds its id or unique key`,
        );
      }
      return true;
    });
  }

  retryAll(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#run('deadLetters.retryAll', (db) => this.#retry(db, filterValues(filter), null));
  }

  purge(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#run('deadLetters.purge', (db) => db.get('dlqPurge').run(filterValues(filter)).changes);
  }

  async purgeIds(ids: readonly string[]): Promise<number> {
    const unique = deadLetterIds(DIALECT, ids);
    return this.#run('deadLetters.purgeIds', (db) => {
      const remove = db.get('dlqDelete');
      return db.immediate(() => unique.reduce((deleted, id) => deleted + remove.run({ job_id: id }).changes, 0));
    });
  }

  count(filter: DeadLetterFilter = {}): Promise<number> {
    return this.#run('deadLetters.count', (db) => (db.get('dlqCount').get(filterValues(filter)) as { count: number }).count);
  }

  /** Moves the matching retryable entries back to their queues in one transaction; returns how many moved. */
  #retry(db: SqliteStatements, filter: FilterValues, id: string | null): number {
    const pick = db.get('dlqPick');
    const insert = db.get('push');
    const remove = db.get('dlqDelete');
    const queues = new Set<string>();
    const moved = db.immediate(() => {
      const now = Date.now();
      let count = 0;
      for (const row of pick.all({ ...filter, job_id: id }) as RetryRow[]) {
        // Skipped while a live job holds the id or the unique key; the entry stays.
        if (insert.run({ ...row, available_at: now, created_at: now }).changes === 1) {
          if (row.group_key !== null) registerLanes(db, row.queue, row.group_key);
          remove.run({ job_id: row.job_id });
          queues.add(row.queue);
          count++;
        }
      }
      return count;
    });
    for (const queue of queues) this.#wake(queue);
    return moved;
  }
}

/** The statements' filter parameters (null = no filter). */
interface FilterValues {
  readonly queue: string | null;
  readonly failed_before: number | null;
}

/** Validates a filter and turns it into the statements' parameters. */
function filterValues(filter: DeadLetterFilter): FilterValues {
  if (filter.queue !== undefined) assertQueue(DIALECT, filter.queue);
  return { queue: filter.queue ?? null, failed_before: filter.failedBefore === undefined ? null : Math.round(filter.failedBefore) };
}
