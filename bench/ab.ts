/**
 * Interleaved side-by-side runs: every system and round in a fresh process (one.ts), against the
 * built `dist` of each checkout, systems taking turns in alternating order, medians of the rounds
 * with their spread. `--base <checkout>` adds queuekit as built in another checkout (an older
 * commit) as a system of its own, for before/after figures.
 *
 *   pnpm --filter @queuekit/bench ab redis --base /tmp/old --rounds 3 [--jobs 10000] [--systems a,b]
 *   pnpm --filter @queuekit/bench ab groups --rounds 3   (each backend with and without 1,000 groups)
 *   pnpm --filter @queuekit/bench ab instrumentation --rounds 5   (bare, no-SDK and SDK modes against bare)
 *
 * Build first (`pnpm build` in each checkout). Results print as a table with ratios, and go to
 * bench/results/ab-<suite>-<time>.json with every round's figures.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const suite = process.argv[2];
const args = process.argv.slice(3);
const SYSTEMS: Record<string, readonly string[]> = {
  redis: ['queuekit-redis', 'bullmq'],
  database: ['queuekit-postgres', 'queuekit-sqlite', 'pg-boss', 'graphile-worker', 'graphile-worker-tuned'],
  heartbeat: ['batched', 'per-job'],
  beanstalk: ['queuekit-beanstalk', 'protocol-floor'],
  groups: ['redis', 'redis-groups', 'postgres', 'postgres-groups', 'sqlite', 'sqlite-groups'],
  instrumentation: ['bare', 'noop', 'sdk'],
};
/** Suites whose systems are variants of one baseline: every other system's ratio is to it (system / baseline). */
const BASELINE: Record<string, string> = { instrumentation: 'bare' };
if (suite === undefined || SYSTEMS[suite] === undefined) {
  console.error(`usage: ab.ts <${Object.keys(SYSTEMS).join('|')}> [--base <checkout>] [--rounds n] [--systems a,b] [suite flags]`);
  process.exit(2);
}
const rounds = Number(flag(args, '--rounds') ?? 3);
// A relative --base is taken from where the command was typed (pnpm runs scripts in bench/).
const baseFlag = flag(args, '--base');
const base = baseFlag === undefined ? undefined : resolve(process.env.INIT_CWD ?? process.cwd(), baseFlag);
const chosen = flag(args, '--systems')?.split(',') ?? SYSTEMS[suite]!;
if (base !== undefined && !chosen.some((system) => system.startsWith('queuekit-'))) {
  console.error(`ab.ts: --base needs a queuekit-* system; the ${suite} suite runs one build (${chosen.join(', ')})`);
  process.exit(2);
}
const passOn = args.filter(
  (_, i) => !['--rounds', '--base', '--systems'].includes(args[i - 1] ?? '') && !['--rounds', '--base', '--systems'].includes(args[i]!),
);

interface Run {
  readonly label: string;
  readonly system: string;
  readonly root?: string;
}
const runs: Run[] = chosen.flatMap((system) =>
  // A keep-none system has no base run: older builds had no retention to turn off.
  system.startsWith('queuekit-') && !system.endsWith('-keep-none') && base !== undefined
    ? [
        { label: system, system },
        { label: `${system}@base`, system, root: base },
      ]
    : [{ label: system, system }],
);

function once(run: Run): Promise<Record<string, number>> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'one.ts'), suite!, run.system, ...(run.root === undefined ? [] : ['--root', run.root]), ...passOn],
    { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) reject(new Error(`bench: ${run.label} exited ${code}: ${out.slice(-2_000)}`));
      else resolve(JSON.parse(line.slice('RESULT '.length)) as Record<string, number>);
    });
  });
}

const figures = new Map<string, Record<string, number>[]>(runs.map((run) => [run.label, []]));
console.log(`ab ${suite}: ${runs.map((r) => r.label).join(', ')}; ${rounds} rounds, a fresh process each${base ? `; base ${base}` : ''}`);
for (let round = 0; round < rounds; round += 1) {
  // Alternate the order, so no system always runs on a machine the previous one warmed or tired.
  const order = round % 2 === 0 ? runs : [...runs].reverse();
  for (const run of order) {
    const result = await once(run);
    figures.get(run.label)!.push(result);
    const shown = Object.entries(result).filter(([k]) => k !== 'system');
    console.log(`  round ${round + 1} ${run.label}: ${shown.map(([k, v]) => `${k}=${Number(v).toFixed(2)}`).join(' ')}`);
  }
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const measures = Object.keys(figures.get(runs[0]!.label)![0]!).filter((k) => k !== 'system');
const fmt = (v: number) => (Number.isNaN(v) ? '-' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
const table: string[][] = [['system', ...measures]];
const medians = new Map<string, Record<string, number>>();
for (const run of runs) {
  const rows = figures.get(run.label)!;
  const med: Record<string, number> = {};
  const cells = measures.map((m) => {
    // A measure a system does not have is null in its JSON (NaN): shown as '-'.
    const values = rows.map((r) => (r[m] === null ? Number.NaN : Number(r[m])));
    med[m] = median(values);
    return values.every(Number.isNaN) ? '-' : `${fmt(med[m])} (${fmt(Math.min(...values))}-${fmt(Math.max(...values))})`;
  });
  medians.set(run.label, med);
  table.push([run.label, ...cells]);
}
/** Latencies (ms) and CPU costs (µs per job) are better lower; throughputs higher. */
const lowerIsBetter = (measure: string) => measure.endsWith('Ms') || measure.endsWith('Us');
const ratioRows: string[][] = [];
// queuekit against its base build and the peers; a suite of queuekit variants alone (heartbeat) compares the first with the rest.
// A suite of X and X-groups systems (groups) compares each grouped system with its plain one.
const grouped = runs.filter((r) => r.system.endsWith('-groups'));
const baseline = runs.find((r) => r.system === BASELINE[suite]);
const firsts =
  baseline !== undefined
    ? runs.filter((r) => r !== baseline)
    : grouped.length > 0
      ? grouped
      : runs.some((r) => r.system.startsWith('queuekit-'))
        ? runs.filter((r) => r.system.startsWith('queuekit-') && r.root === undefined)
        : runs.slice(0, 1);
for (const run of firsts) {
  const peers =
    baseline !== undefined
      ? [baseline]
      : run.system.endsWith('-groups')
        ? runs.filter((r) => r.system === run.system.replace(/-groups$/, ''))
        : runs.filter(
            (r) => r !== run && (r.system === run.system || r.system === `${run.system}-keep-none` || !r.system.startsWith('queuekit-')),
          );
  for (const other of peers) {
    const a = medians.get(run.label)!;
    const b = medians.get(other.label)!;
    ratioRows.push([
      `${run.label} / ${other.label}`,
      ...measures.map((m) => (a[m] && b[m] ? `${(lowerIsBetter(m) ? b[m]! / a[m]! : a[m]! / b[m]!).toFixed(2)}x` : '-')),
    ]);
  }
}
const print = (lines: string[][]) => {
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  for (const line of lines) console.log(line.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
};
console.log(
  `\nmedians of ${rounds} rounds (min-max); throughput in jobs/s, latency in ms, CPU in µs per job (client: the bench process; server: the backend's processes)`,
);
print(table);
console.log('\nratios of medians (above 1.00x = the first system better):');
print([['', ...measures], ...ratioRows]);
const dir = join(here, 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `ab-${suite}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ suite, base, rounds, at: new Date().toISOString(), node: process.version, runs: Object.fromEntries(figures) }, null, 2)}\n`,
);
console.log(`\nJSON written to ${file}`);
