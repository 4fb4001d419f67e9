import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
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

/** CPU seconds a backend server has used so far (all its processes), read before and after a run. */
export type ServerCpu = () => Promise<number>;

/**
 * CPU seconds of the processes of a server listening on this machine: the process bound to `port`
 * and its children (PostgreSQL's backends), from /proc. NaN where there is no /proc.
 */
export function localServerCpu(port: number): ServerCpu {
  const ticks = 100; // USER_HZ on Linux
  const stat = (pid: string) => {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: fields[1]!, cpu: (Number(fields[11]) + Number(fields[12])) / ticks };
  };
  let root: string | undefined;
  return async () => {
    if (!existsSync('/proc/net/tcp')) return Number.NaN;
    root ??= listeningPid(port);
    if (root === undefined) return Number.NaN;
    let total = 0;
    for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
      try {
        const s = stat(pid);
        if (pid === root || s.ppid === root) total += s.cpu;
      } catch {
        // Exited while listed: its CPU is gone from every reading, before and after alike.
      }
    }
    return total;
  };
}

/** The pid of the process listening on TCP `port` (IPv4), found through its socket inode. */
function listeningPid(port: number): string | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set(
    readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '0A')
      .map((f) => f[9]!),
  );
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode !== undefined && inodes.has(inode)) return pid;
      }
    } catch {
      // Not ours to read, or exited: not the server.
    }
  }
  return undefined;
}

/** The CPU figures of the c1 and c50 processing runs, for systems that measure them (queuekit's). */
export function processCost(
  c1: { clientUs: number; serverUs: number } | undefined,
  c50: { clientUs: number; serverUs: number } | undefined,
): Record<string, number> {
  if (c1 === undefined || c50 === undefined) return {};
  return { process1ClientUs: c1.clientUs, process1ServerUs: c1.serverUs, process50ClientUs: c50.clientUs, process50ServerUs: c50.serverUs };
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
