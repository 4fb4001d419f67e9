// The chaos ledger: every handler run, written by the handler itself into a SQLite file of its
// own, so the runner's counts never rest on the queue's state. Shared by the worker processes
// (jobs.mjs) and the runner, which creates the file before any worker starts.
import Database from 'better-sqlite3';

/**
 * How long a write waits for another process's lock, in ms. A worker paused with SIGSTOP in the
 * middle of its (sub-millisecond) write holds the lock for the whole pause, so this outlasts any
 * pause the runner makes.
 */
const BUSY_TIMEOUT_MS = 120_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run INTEGER PRIMARY KEY,
  job TEXT NOT NULL,
  name TEXT NOT NULL,
  pid INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  parent TEXT,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,
  aborted_at INTEGER,
  abort_reason TEXT
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job);
CREATE TABLE IF NOT EXISTS events (
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  pid INTEGER NOT NULL,
  detail TEXT
);
`;

/**
 * Opens (and creates, when `create` is set) the ledger at `file`.
 * @param {string} file
 * @param {{ create?: boolean }} [options]
 * @returns {import('better-sqlite3').Database}
 */
export function openLedgerDatabase(file, options = {}) {
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS, fileMustExist: options.create !== true });
  db.pragma('journal_mode = WAL');
  // A committed write survives the death of its process (not of the machine), which is all a
  // SIGKILL can do here.
  db.pragma('synchronous = NORMAL');
  if (options.create === true) db.exec(SCHEMA);
  return db;
}

/**
 * The writer a worker process uses: one row per handler run.
 * @param {string} file
 */
export function openLedgerWriter(file) {
  const db = openLedgerDatabase(file);
  const insert = db.prepare(
    'INSERT INTO runs (job, name, pid, attempt, parent, started_at) VALUES (@job, @name, @pid, @attempt, @parent, @startedAt)',
  );
  const finish = db.prepare('UPDATE runs SET ended_at = @endedAt, outcome = @outcome WHERE run = @run');
  const abort = db.prepare('UPDATE runs SET aborted_at = @abortedAt, abort_reason = @reason WHERE run = @run AND aborted_at IS NULL');
  return {
    /**
     * Records the start of a run; returns its row id.
     * @param {{ job: string, name: string, attempt: number, parent: string | null }} run
     * @returns {number}
     */
    start(run) {
      return Number(insert.run({ ...run, pid: process.pid, startedAt: Date.now() }).lastInsertRowid);
    },
    /**
     * Records how a run ended: `ok`, `failed` or `aborted`.
     * @param {number} run
     * @param {string} outcome
     */
    end(run, outcome) {
      finish.run({ run, outcome, endedAt: Date.now() });
    },
    /**
     * Records that the worker aborted the run's signal (lease lost, shutdown, timeout) and why.
     * @param {number} run
     * @param {string} reason
     */
    aborted(run, reason) {
      abort.run({ run, reason, abortedAt: Date.now() });
    },
  };
}
