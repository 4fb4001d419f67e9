import { type Analysis, quantile } from './analyse.js';
import type { ChaosEvent } from './worker-pool.js';

/** What a driver's table says about the run besides the analysis. */
export interface RunSummary {
  readonly driver: string;
  readonly seed: number;
  readonly workers: number;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly chaosMs: number;
  readonly drainMs: number;
  readonly drained: boolean;
  readonly events: readonly ChaosEvent[];
  readonly dropLabel: string | undefined;
  readonly restartLabel: string | undefined;
  readonly notes: readonly string[];
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

const verdict = (ok: boolean) => (ok ? 'ok' : 'FAIL');
const ms = (value: number | undefined) => (value === undefined ? '-' : `${(value / 1000).toFixed(2)} s`);

/** The table of one driver's run, with the actions taken and the notes, as Markdown. */
export function formatRun(summary: RunSummary, a: Analysis): string {
  const count = (action: ChaosEvent['action']) => summary.events.filter((e) => e.action === action).length;
  const cut = summary.events.filter((e) => e.action === 'drop').reduce((sum, e) => sum + Number(e.detail ?? 0), 0);
  const actions = [
    `${count('kill')} SIGKILL`,
    `${count('term')} SIGTERM`,
    `${count('stop')} SIGSTOP (each longer than the lease)`,
    ...(summary.dropLabel === undefined ? [] : [`${count('drop')} ${summary.dropLabel} (${cut} connections cut)`]),
    ...(summary.restartLabel === undefined ? [] : [`${count('restart')} ${summary.restartLabel}`]),
  ];
  const p50 = quantile(a.recoveryMs, 0.5);
  const max = quantile(a.recoveryMs, 1);
  const recoveryOk = p50 === undefined || p50 <= summary.leaseMs + 1_000;
  const rerunTotal = Object.values(a.reruns).reduce((sum, n) => sum + n, 0);
  const rerunWhy = Object.entries(a.reruns)
    .map(([why, n]) => `${n} ${why}`)
    .join('; ');
  const rows: string[][] = [
    ['check', 'value', ''],
    [
      'jobs lost',
      `${a.lost.length}${a.lostAsMaxDeliveries > 0 ? ` (${a.lostAsMaxDeliveries} dead-lettered as max-deliveries)` : ''}`,
      verdict(a.lost.length === 0),
    ],
    ['concurrent runs within a live lease', String(a.concurrentLive.length), verdict(a.concurrentLive.length === 0)],
    [
      'overlaps with a paused (zombie) worker',
      `${a.zombieOverlaps}${a.zombieTakenEarly > 0 ? ` (${a.zombieTakenEarly} taken before its lease could have run out)` : ''}`,
      verdict(a.zombieTakenEarly === 0),
    ],
    ['overlaps after the worker gave the job up', String(a.givenUpOverlaps), 'expected'],
    ...(summary.restartLabel === undefined ? [] : [['overlaps after a server restart', String(a.serverReleasedOverlaps), 'expected']]),
    ...(summary.dropLabel === undefined
      ? []
      : [['overlaps after a cut outlasting the lease', String(a.cutOverlaps), 'lease lost while reconnecting']]),
    [
      'zombie jobs: fenced / accepted while held',
      `${a.zombies.jobs} jobs: ${a.zombies.fenced} fenced, ${a.zombies.accepted.length} accepted (${a.zombies.acceptedAfterDone} no-op acks after the new holder finished)`,
      verdict(a.zombies.accepted.length === 0),
    ],
    ['re-runs of finished jobs', `${rerunTotal}${rerunWhy === '' ? '' : `: ${rerunWhy}`}`, 'at-least-once'],
    ['follow-ups lost', `${a.followUps.lost.length} of ${a.followUps.expected}`, verdict(a.followUps.lost.length === 0)],
    ['follow-ups doubled', String(a.followUps.doubled.length), 'at-least-once'],
    [
      'follow-ups of a parent that did not settle so',
      String(a.followUps.unsettledParent.length),
      verdict(a.followUps.unsettledParent.length === 0),
    ],
    [
      'poison dead-lettered as poison',
      `${a.poison.deadLettered} of ${a.poison.pushed}${a.poison.otherReason > 0 ? ` (${a.poison.otherReason} with another reason)` : ''}`,
      verdict(a.poison.deadLettered === a.poison.pushed),
    ],
    [
      'recovery after SIGKILL p50 / max',
      `${ms(p50)} / ${ms(max)} (${a.recoveryMs.length} jobs; lease ${ms(summary.leaseMs)})`,
      recoveryOk ? 'ok: p50 within lease + 1 s' : 'p50 over lease + 1 s',
    ],
    ['completed / dead-lettered as failed', `${a.completed} / ${a.deadLetteredFailed} of ${a.jobs} jobs, ${a.runs} runs`, ''],
    [
      'worker exits not asked for',
      `${a.unexpectedExits} (and ${a.refusedAtStart} refused to start during a cut)`,
      verdict(a.unexpectedExits === 0),
    ],
    ['worker error lines (ridden out)', String(a.workerErrors), ''],
    [
      'drained',
      `${summary.drained ? 'yes' : 'NO'} in ${ms(summary.drainMs)} after ${ms(summary.chaosMs)} of chaos`,
      verdict(summary.drained),
    ],
  ];
  const header = `### ${summary.driver} (seed ${summary.seed}; ${summary.workers} workers x ${summary.concurrency}; lease ${summary.leaseMs} ms)`;
  return [header, `actions: ${actions.join(', ')}`, ...summary.notes.map((note) => `note: ${note}`), '', table(rows)].join('\n');
}

/** The one-line-per-driver summary at the end of a run of several drivers. */
export function formatSummary(rows: readonly { driver: string; analysis: Analysis; leaseMs: number }[]): string {
  return table([
    [
      'driver',
      'lost',
      'concurrent (live lease)',
      'zombie overlaps',
      're-runs',
      'follow-ups lost / doubled',
      'poison',
      'recovery p50 / max',
      'problems',
    ],
    ...rows.map(({ driver, analysis: a }) => [
      driver,
      String(a.lost.length),
      String(a.concurrentLive.length),
      String(a.zombieOverlaps),
      String(Object.values(a.reruns).reduce((sum, n) => sum + n, 0)),
      `${a.followUps.lost.length} / ${a.followUps.doubled.length}`,
      `${a.poison.deadLettered}/${a.poison.pushed}`,
      `${ms(quantile(a.recoveryMs, 0.5))} / ${ms(quantile(a.recoveryMs, 1))}`,
      String(a.problems.length),
    ]),
  ]);
}
