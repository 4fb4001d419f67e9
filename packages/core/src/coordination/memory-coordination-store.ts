import type { CoordinationStore, ScheduleLedgerEntry } from './coordination-store.js';

interface Entry {
  /** Counter value, or 0 for a lease. */
  count: number;
  /** Lease owner; undefined for a counter. */
  owner: string | undefined;
  /** Epoch ms (store clock) when the entry expires. */
  expiresAt: number;
}

const EMPTY_LEDGER_ENTRY: ScheduleLedgerEntry = {
  lastTickAt: undefined,
  lastTickJobId: undefined,
  lastTickRecordedAt: undefined,
  lastRunJobId: undefined,
  lastRunAt: undefined,
};

/**
 * A {@link CoordinationStore} in this process's memory: for tests and single-process workers
 * (the memory driver's store). Expired entries are dropped when touched.
 */
export class MemoryCoordinationStore implements CoordinationStore {
  readonly #entries = new Map<string, Entry>();
  readonly #ledger = new Map<string, ScheduleLedgerEntry>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async increment(key: string, windowMs: number): Promise<number> {
    const entry = this.#live(key);
    if (entry === undefined) {
      this.#entries.set(key, { count: 1, owner: undefined, expiresAt: this.#now() + windowMs });
      return 1;
    }
    entry.count += 1;
    return entry.count;
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const entry = this.#live(key);
    if (entry !== undefined && entry.owner !== owner) return false;
    this.#entries.set(key, { count: 0, owner, expiresAt: this.#now() + ttlMs });
    return true;
  }

  async release(key: string, owner: string): Promise<boolean> {
    const entry = this.#live(key);
    if (entry === undefined || entry.owner !== owner) return false;
    this.#entries.delete(key);
    return true;
  }

  async remainingMs(key: string): Promise<number> {
    const entry = this.#live(key);
    return entry === undefined ? 0 : entry.expiresAt - this.#now();
  }

  async delete(key: string): Promise<boolean> {
    return this.#live(key) !== undefined && this.#entries.delete(key);
  }

  async now(): Promise<number> {
    return this.#now();
  }

  async recordTick(schedule: string, tickAt: number, jobId: string): Promise<boolean> {
    const entry = this.#ledger.get(schedule) ?? EMPTY_LEDGER_ENTRY;
    if (entry.lastTickAt !== undefined && entry.lastTickAt >= tickAt) return false;
    this.#ledger.set(schedule, { ...entry, lastTickAt: tickAt, lastTickJobId: jobId, lastTickRecordedAt: this.#now() });
    return true;
  }

  async recordManualRun(schedule: string, jobId: string): Promise<void> {
    const entry = this.#ledger.get(schedule) ?? EMPTY_LEDGER_ENTRY;
    this.#ledger.set(schedule, { ...entry, lastRunJobId: jobId, lastRunAt: this.#now() });
  }

  async scheduleEntry(schedule: string): Promise<ScheduleLedgerEntry | undefined> {
    return this.#ledger.get(schedule);
  }

  /** The entry of `key` unless it expired (then it is dropped). */
  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
