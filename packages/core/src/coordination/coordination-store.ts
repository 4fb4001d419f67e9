/**
 * What the schedule ledger holds for one schedule: the latest tick fired (by any scheduler
 * process) and the latest manual run. Times are epoch ms; recorded times are the backend's clock.
 */
export interface ScheduleLedgerEntry {
  /** Time of the latest tick recorded as fired; undefined when no tick was. */
  readonly lastTickAt: number | undefined;
  /**
   * Id of the job dispatched for that tick (for a tick skipped because the previous tick's job was
   * unfinished: that job's id); undefined when no tick was recorded.
   */
  readonly lastTickJobId: string | undefined;
  /** When that tick was recorded (backend clock); undefined when no tick was. */
  readonly lastTickRecordedAt: number | undefined;
  /** Id of the job of the latest manual run (`queue schedule run`); undefined when there was none. */
  readonly lastRunJobId: string | undefined;
  /** When the latest manual run was recorded (backend clock); undefined when there was none. */
  readonly lastRunAt: number | undefined;
}

/**
 * Small shared state kept in the driver's backend so that every process on it sees the same:
 * counters that expire and keys leased to one owner for a time (job middleware), and the ledger
 * of fired schedule ticks (the Scheduler). Every operation is atomic in the backend and uses the
 * backend's clock where it has one. Keys and schedule names are free-form strings (the store
 * prefixes them with its own namespace).
 */
export interface CoordinationStore {
  /**
   * Adds 1 to counter `key` and resolves its new value. A counter that did not exist (or had
   * expired) starts at 1 and expires `windowMs` after this first increment; later increments do
   * not extend it (a fixed window).
   */
  increment(key: string, windowMs: number): Promise<number>;
  /**
   * Takes lease `key` for `owner` for `ttlMs`: granted when the key is free, expired, or already
   * held by `owner` (then its expiry is renewed). Resolves true when `owner` holds it now.
   */
  acquire(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Frees lease `key` when `owner` holds it; resolves false when someone else (or nobody) held it. */
  release(key: string, owner: string): Promise<boolean>;
  /** Ms until lease `key` expires, 0 when it is free or expired. */
  remainingMs(key: string): Promise<number>;
  /** Deletes counter or lease `key` whatever its state; resolves whether there was one. */
  delete(key: string): Promise<boolean>;
  /** The backend's clock, epoch ms: what decides which schedule ticks are due. */
  now(): Promise<number>;
  /**
   * Records tick `tickAt` (epoch ms, an integer) of `schedule` as fired, with the id of the job
   * dispatched for it, only if it is later than the last tick recorded: a
   * compare-and-set, so of several schedulers offering the same tick exactly one gets true, and a
   * late one offering an older tick gets false. Never expires.
   */
  recordTick(schedule: string, tickAt: number, jobId: string): Promise<boolean>;
  /** Records a manual run of `schedule` (not a tick: the tick sequence is unchanged) with its job id. */
  recordManualRun(schedule: string, jobId: string): Promise<void>;
  /** The ledger entry of `schedule`, or undefined when nothing was recorded for it. */
  scheduleEntry(schedule: string): Promise<ScheduleLedgerEntry | undefined>;
}
