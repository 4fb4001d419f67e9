import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One measured row: a system under test and its figures (jobs/s for throughput, ms for latency). */
export interface BenchRow {
  readonly system: string;
  readonly [measure: string]: number | string | undefined;
}

/** The value after `--name` in `args`, or undefined when the flag is absent. */
export function flag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
}

/** Milliseconds since an arbitrary origin, sub-millisecond precision. */
export function nowMs(): number {
  return performance.now();
}

/** Runs `fn` and returns jobs per second for `count` jobs. */
export async function throughput(count: number, fn: () => Promise<void>): Promise<number> {
  const started = nowMs();
  await fn();
  return count / ((nowMs() - started) / 1000);
}

/** The p-th percentile (0..100) of `values`, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `predicate()` is true, polling every `everyMs`; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, everyMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

function format(value: number | string | undefined): string {
  if (value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

/**
 * Prints rows as an aligned table, then, for each `baseline` system, the ratio of every other
 * system to it per measure (throughput: higher is better; latency columns ending in `Ms`: lower is
 * better, so the ratio printed is baseline / system — above 1 means faster than the baseline).
 */
export function report(suite: string, rows: readonly BenchRow[], baselines: readonly string[]): void {
  const measures = [...new Set(rows.flatMap((row) => Object.keys(row).filter((key) => key !== 'system')))];
  const table = [['system', ...measures], ...rows.map((row) => [row.system, ...measures.map((m) => format(row[m]))])];
  const ratioRows: string[][] = [];
  for (const baseline of baselines) {
    const base = rows.find((row) => row.system === baseline);
    if (base === undefined) continue;
    for (const row of rows) {
      if (row.system === baseline || row.system.split('-')[0] === baseline.split('-')[0]) continue;
      ratioRows.push([
        `${row.system} / ${baseline}`,
        ...measures.map((m) => {
          const a = row[m];
          const b = base[m];
          if (typeof a !== 'number' || typeof b !== 'number' || a === 0 || b === 0) return '-';
          return `${(m.endsWith('Ms') ? b / a : a / b).toFixed(2)}x`;
        }),
      ]);
    }
  }
  const all = [...table, ...ratioRows];
  const widths = all[0]!.map((_, col) => Math.max(...all.map((line) => (line[col] ?? '').length)));
  const print = (line: string[]) => console.log(line.map((cell, col) => cell.padStart(widths[col] ?? 0)).join('  '));
  console.log(`\n${suite}: throughput in jobs/s (higher is better), latency in ms (lower is better)`);
  for (const line of table) print(line);
  if (ratioRows.length > 0) {
    console.log('\nratios (above 1.00x = queuekit better):');
    for (const line of ratioRows) print(line);
  }
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ suite, at: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`);
  console.log(`\nJSON written to ${file}`);
}
