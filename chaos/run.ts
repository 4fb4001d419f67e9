// `pnpm chaos [--driver NAME|all] [--jobs N] [--duration S] [--seed N]`: runs real `queue work`
// processes of each driver under random SIGKILL / SIGTERM / SIGSTOP, connection cuts and server
// restarts, checks every job against a ledger of its own, prints one table per driver, and exits
// 1 when a job was lost, ran twice within a live lease, or a woken zombie settled a job it lost.
import { parseArgs } from 'node:util';
import type { Analysis } from './src/analyse.js';
import { DRIVERS, type DriverName } from './src/backends.js';
import { runChaos, WORKER_DEFAULT_LEASE_MS } from './src/chaos-run.js';
import { formatSummary } from './src/report.js';

const { values } = parseArgs({
  options: {
    driver: { type: 'string', default: 'all' },
    jobs: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '60' },
    seed: { type: 'string' },
    workers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '8' },
    lease: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'fail-on': { type: 'string', default: 'loss,overlap,crash' },
  },
});

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`chaos: --${flag}: expected a whole number >= 1, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const drivers: DriverName[] =
  values.driver === 'all'
    ? [...DRIVERS]
    : values.driver.split(',').map((name) => {
        if (!(DRIVERS as readonly string[]).includes(name)) {
          console.error(`chaos: --driver: expected one of ${DRIVERS.join(', ')} or all, got ${JSON.stringify(name)}`);
          process.exit(2);
        }
        return name as DriverName;
      });
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInteger('seed', values.seed);
const jobs = positiveInteger('jobs', values.jobs);
const chaosMs = positiveInteger('duration', values.duration) * 1_000;
const workers = positiveInteger('workers', values.workers);
const concurrency = positiveInteger('concurrency', values.concurrency);
const failOn = new Set(values['fail-on'].split(','));
for (const kind of failOn) {
  if (!['loss', 'concurrent', 'overlap', 'crash'].includes(kind)) {
    console.error(`chaos: --fail-on: expected a list of loss, concurrent, overlap, crash, got ${JSON.stringify(kind)}`);
    process.exit(2);
  }
}
// `overlap` names every overlap check, concurrent runs included; `concurrent` those alone.
if (failOn.has('overlap')) failOn.add('concurrent');
const leaseMs = values.lease === undefined ? undefined : positiveInteger('lease', values.lease);

console.log(
  `chaos: seed ${seed} (repeat with --seed ${seed}), drivers ${drivers.join(', ')}, lease ${leaseMs ?? `${WORKER_DEFAULT_LEASE_MS} (the default)`} ms`,
);
const results: { driver: string; analysis: Analysis; leaseMs: number }[] = [];
let failed = false;
for (const [index, driver] of drivers.entries()) {
  try {
    const analysis = await runChaos({
      driver,
      jobs,
      chaosMs,
      seed: seed + index,
      workers,
      concurrency,
      leaseMs,
      keep: values.keep,
      log: (line) => console.log(line),
    });
    results.push({ driver, analysis, leaseMs: leaseMs ?? WORKER_DEFAULT_LEASE_MS });
    if (analysis.problems.some((problem) => failOn.has(problem.kind))) failed = true;
  } catch (error) {
    failed = true;
    console.error(`FAIL ${driver}: the run itself failed:`, error);
  }
}
if (results.length > 1) console.log(`\n${formatSummary(results)}`);
console.log(failed ? `\nchaos: FAILED (seed ${seed})` : `\nchaos: passed (seed ${seed})`);
process.exit(failed ? 1 : 0);
