/**
 * The claim is an index scan only while the planner knows the jobs table is large: a table that went
 * from empty to thousands of rows within autovacuum's minute is planned as a few rows, and each
 * claim then sorts the whole queue. So the driver that pushed at least this many rows, and at
 * least as many as the last analysis counted (the table may have doubled), analyzes it itself.
 */
const ANALYZE_AFTER_ROWS = 1_000;

/**
 * Keeps the planner's statistics of the jobs table current after bursts of pushes (about table
 * statistics only: it does not depend on how callers claim). The analysis runs in the background;
 * its errors go to `onError`.
 */
export class PostgresTableAnalyzer {
  readonly #analyze: () => Promise<number>;
  readonly #onError: (error: unknown) => void;
  /** Rows pushed since the last analysis, and the row count that analysis saw. */
  #pushedSince = 0;
  #analyzedRows = 0;
  #running = false;

  /** `analyze` runs ANALYZE and resolves the row count the planner now assumes. */
  constructor(analyze: () => Promise<number>, onError: (error: unknown) => void) {
    this.#analyze = analyze;
    this.#onError = onError;
  }

  /** Counts `rows` stored by a push and starts an analysis once the threshold is crossed. */
  noteStored(rows: number): void {
    this.#pushedSince += rows;
    if (this.#running || this.#pushedSince < Math.max(ANALYZE_AFTER_ROWS, this.#analyzedRows)) return;
    this.#running = true;
    this.#pushedSince = 0;
    this.#analyze()
      .then((found) => {
        this.#analyzedRows = Math.max(0, found);
      })
      .catch(this.#onError)
      .finally(() => {
        this.#running = false;
      });
  }
}
