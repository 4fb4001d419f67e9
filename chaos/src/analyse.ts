import type { DeadLetterEntry } from '@queuekit/core';
import type { RunPlan } from './plan.js';
import type { ChaosEvent, WorkerProcess } from './worker-pool.js';

/**
 * How long before its run starts a job may have been claimed: the Worker holds a job it claimed
 * ahead at most 50 ms before a slot starts it (older ones are given back), and this leaves room for
 * a loaded event loop. A server restart or connection cut in that time ends the reservation as one
 * during the run does.
 */
const CLAIM_HELD_MS = 250;

/** One handler run as the ledger holds it. Times are epoch ms. */
export interface LedgerRun {
  readonly run: number;
  readonly job: string;
  readonly name: string;
  readonly pid: number;
  readonly attempt: number;
  readonly parent: string | null;
  readonly started_at: number;
  readonly ended_at: number | null;
  readonly outcome: string | null;
  readonly aborted_at: number | null;
  readonly abort_reason: string | null;
}

/** What the analysis needs besides the ledger. */
export interface AnalysisInput {
  readonly plan: RunPlan;
  readonly runs: readonly LedgerRun[];
  readonly events: readonly ChaosEvent[];
  readonly workers: readonly WorkerProcess[];
  readonly deadLetters: readonly DeadLetterEntry[];
  readonly leaseMs: number;
  /** Whether the backend's connection drops and restarts hand reserved jobs out again at once. */
  readonly serverReleasesLeases: boolean;
}

/** The counts of one driver's run; `problems` lists what fails the run. */
export interface Analysis {
  readonly jobs: number;
  readonly runs: number;
  readonly completed: number;
  readonly deadLetteredFailed: number;
  /** Jobs never completed and not dead-lettered for a reason of their own (ids). */
  readonly lost: string[];
  /** Of the lost: dead-lettered as `max-deliveries` (their deliveries died with their workers too often). */
  readonly lostAsMaxDeliveries: number;
  /** Overlapping runs whose first runner was alive, not paused, and had not given the job up. */
  readonly concurrentLive: string[];
  /** Overlaps where the first runner was paused (SIGSTOP) when the job was taken over: expected, fenced. */
  readonly zombieOverlaps: number;
  /** Of those: taken over sooner than a lease after the pause could have run out, with no server restart in between to explain it (should be 0). */
  readonly zombieTakenEarly: number;
  /** Overlaps after the server handed reserved jobs out again (beanstalkd restart). */
  readonly serverReleasedOverlaps: number;
  /** Overlaps after the worker had aborted the first run (its lease was lost, or shutdown) whose handler ignored its signal. */
  readonly givenUpOverlaps: number;
  /** Overlaps where the first run's connection was cut at least a lease (less a heartbeat) before the takeover: renewals could not reach the server. */
  readonly cutOverlaps: number;
  /** Runs that started after an earlier run of the same job had finished ok, by why. */
  readonly reruns: Record<string, number>;
  /** Re-runs no chaos action explains, described. */
  readonly unexplainedReruns: string[];
  readonly followUps: { expected: number; ran: number; lost: string[]; doubled: string[]; unsettledParent: string[] };
  readonly poison: { pushed: number; deadLettered: number; missing: number; otherReason: number };
  /** Delays from a SIGKILL to the next start of each job the killed worker was running, in ms. */
  readonly recoveryMs: number[];
  readonly zombies: {
    /** Jobs a paused worker was running that another worker took over while it was paused. */
    jobs: number;
    /** Settles of those jobs by the woken worker that its driver refused (LeaseLostError). */
    fenced: number;
    /** Settles of those jobs by the woken worker that its driver accepted while another worker held the job. */
    accepted: string[];
    /** Settles accepted after the job's new holder had already finished it (an ack of a gone job is a no-op). */
    acceptedAfterDone: number;
  };
  readonly unexpectedExits: number;
  /** Workers that exited at start because a connection cut made their backend unreachable (by design). */
  readonly refusedAtStart: number;
  readonly workerErrors: number;
  readonly problems: Problem[];
}

/**
 * What kind of broken promise a problem is: `loss` (a job, follow-up or poison body not accounted
 * for), `concurrent` (two runs at once within a live lease), `overlap` (a job taken from a paused
 * worker sooner than its lease allows, a zombie's settle accepted), `crash` (a worker died on its
 * own).
 */
export type ProblemKind = 'loss' | 'concurrent' | 'overlap' | 'crash';

/** A failed check of a run. */
export interface Problem {
  readonly kind: ProblemKind;
  readonly text: string;
}

/** `queue work`'s exit code when the backend does not answer at start. */
const EXIT_UNREACHABLE = 2;

const byStart = (a: LedgerRun, b: LedgerRun) => a.started_at - b.started_at || a.run - b.run;

/** Counts what the ledger, the workers' output and the dead-letter store say about one run. */
export function analyse(input: AnalysisInput): Analysis {
  const { plan, runs, events, leaseMs } = input;
  const heartbeatMs = leaseMs / 3;
  const runsByJob = new Map<string, LedgerRun[]>();
  for (const run of runs) {
    const list = runsByJob.get(run.job);
    if (list === undefined) runsByJob.set(run.job, [run]);
    else list.push(run);
  }
  for (const list of runsByJob.values()) list.sort(byStart);
  const eventsByPid = new Map<number, ChaosEvent[]>();
  for (const event of events) {
    const list = eventsByPid.get(event.pid);
    if (list === undefined) eventsByPid.set(event.pid, [event]);
    else list.push(event);
  }
  // A SIGKILLed process is gone when the signal is sent; the runner hears of its exit a little later.
  const exitAt = (pid: number) =>
    eventsByPid.get(pid)?.find((e) => e.action === 'kill' || e.action === 'exit')?.at ?? Number.POSITIVE_INFINITY;
  const pidEventsBetween = (pid: number, from: number, to: number, action: ChaosEvent['action']) =>
    (eventsByPid.get(pid) ?? []).filter((e) => e.action === action && e.at >= from && e.at <= to);
  const serverEventsBetween = (from: number, to: number) =>
    events.filter((e) => (e.action === 'restart' || e.action === 'drop') && e.at >= from && e.at <= to);
  const effectiveEnd = (run: LedgerRun) => run.ended_at ?? exitAt(run.pid);

  const dead = new Map<string, DeadLetterEntry>();
  for (const entry of input.deadLetters) dead.set(entry.id, entry);
  const problems: Problem[] = [];

  // Lost jobs.
  let completed = 0;
  let deadLetteredFailed = 0;
  let lostAsMaxDeliveries = 0;
  const lost: string[] = [];
  for (const job of plan.jobs) {
    const ok = (runsByJob.get(job.id) ?? []).some((r) => r.outcome === 'ok');
    const entry = dead.get(job.id);
    if (job.fail === 'always') {
      if (entry?.reason === 'failed') deadLetteredFailed += 1;
      else {
        lost.push(job.id);
        if (entry?.reason === 'max-deliveries') lostAsMaxDeliveries += 1;
      }
      continue;
    }
    if (ok) completed += 1;
    else {
      lost.push(job.id);
      if (entry?.reason === 'max-deliveries') lostAsMaxDeliveries += 1;
    }
  }

  // Overlaps and re-runs, over every job the ledger saw (follow-ups included).
  const concurrentLive: string[] = [];
  let zombieOverlaps = 0;
  let zombieTakenEarly = 0;
  let serverReleasedOverlaps = 0;
  let givenUpOverlaps = 0;
  let cutOverlaps = 0;
  const unexplained: string[] = [];
  const reruns: Record<string, number> = {};
  for (const [job, list] of runsByJob) {
    for (let j = 1; j < list.length; j++) {
      const second = list[j]!;
      for (let i = 0; i < j; i++) {
        const first = list[i]!;
        if (first.outcome === 'ok' && first.ended_at !== null && first.ended_at <= second.started_at) {
          // Count each re-run once, against the latest finished run before it.
          if (list.slice(i + 1, j).some((r) => r.outcome === 'ok' && r.ended_at !== null && r.ended_at <= second.started_at)) continue;
          const why = rerunReason(first, second);
          reruns[why] = (reruns[why] ?? 0) + 1;
          continue;
        }
        if (second.started_at >= effectiveEnd(first)) continue;
        const stop = pidEventsBetween(first.pid, first.started_at, second.started_at, 'stop')[0];
        if (stop !== undefined) {
          zombieOverlaps += 1;
          // A server that hands reserved jobs out again when it restarts (beanstalkd) may have done
          // so while the first run went on: then the takeover says nothing of the lease.
          const released = input.serverReleasesLeases && serverEventsBetween(first.started_at, second.started_at).length > 0;
          if (!released && second.started_at - stop.at < leaseMs - heartbeatMs - 250) zombieTakenEarly += 1;
          continue;
        }
        if (first.aborted_at !== null && first.aborted_at <= second.started_at) {
          givenUpOverlaps += 1;
          continue;
        }
        const cuts = serverEventsBetween(first.started_at, second.started_at);
        if (input.serverReleasesLeases && cuts.length > 0) {
          serverReleasedOverlaps += 1;
          continue;
        }
        // A cut connection stops renewals until the worker reconnects; when that takes longer
        // than the lease has left, the lease runs out in a live worker. Counted apart only when the
        // takeover came late enough for that to be possible.
        if (cuts.some((cut) => second.started_at - cut.at >= leaseMs - heartbeatMs - 250)) {
          cutOverlaps += 1;
          continue;
        }
        concurrentLive.push(
          `${job}: run ${first.run} (pid ${first.pid}, ${first.started_at}..${first.ended_at ?? 'no end'}, aborted ${first.abort_reason ?? 'no'}) and run ${second.run} (pid ${second.pid}, from ${second.started_at})`,
        );
      }
    }
  }

  function rerunReason(first: LedgerRun, second: LedgerRun): string {
    const from = first.ended_at as number;
    const to = second.started_at;
    if (pidEventsBetween(first.pid, from - 1, to, 'kill').length > 0) return 'worker SIGKILLed before its ack';
    if (pidEventsBetween(first.pid, first.started_at, to, 'stop').length > 0) return 'worker paused (SIGSTOP) before its ack';
    // From the claim on: a restart or cut between the claim and the run's start ends the reservation too.
    const server = serverEventsBetween(first.started_at - CLAIM_HELD_MS, to);
    if (server.some((e) => e.action === 'restart')) return 'server restarted before the ack';
    if (server.length > 0) return 'connection cut before the ack';
    if (first.aborted_at !== null) return `first run aborted (${first.abort_reason})`;
    // A graceful stop acknowledges what finished before it exits: a re-run after one is a defect.
    if (pidEventsBetween(first.pid, from - 1, to, 'term').length > 0) return 'worker SIGTERMed before its ack';
    unexplained.push(
      `${first.job}: ok run ${first.run} (pid ${first.pid}, ended ${from}), run ${second.run} (pid ${second.pid}, from ${to})`,
    );
    return 'no chaos action explains it';
  }

  // Follow-ups.
  const followUpRuns = runs.filter((r) => r.name.startsWith('chaos-follow-up:'));
  const followUpsOf = new Map<string, Map<string, Set<string>>>();
  for (const run of followUpRuns) {
    if (run.parent === null || run.outcome !== 'ok') continue;
    const kind = run.name.slice('chaos-follow-up:'.length);
    const kinds = followUpsOf.get(run.parent) ?? new Map<string, Set<string>>();
    followUpsOf.set(run.parent, kinds);
    const ids = kinds.get(kind) ?? new Set<string>();
    kinds.set(kind, ids);
    ids.add(run.job);
  }
  let expectedFollowUps = 0;
  let ranFollowUps = 0;
  const followUpsLost: string[] = [];
  const followUpsDoubled: string[] = [];
  const unsettledParent: string[] = [];
  for (const job of plan.jobs) {
    const parentOk = (runsByJob.get(job.id) ?? []).some((r) => r.outcome === 'ok');
    const parentFailed = dead.get(job.id)?.reason === 'failed';
    for (const kind of ['then', 'catch'] as const) {
      const planned = kind === 'then' ? job.then : job.catch;
      const settled = kind === 'then' ? parentOk : parentFailed;
      const ran = followUpsOf.get(job.id)?.get(kind)?.size ?? 0;
      ranFollowUps += ran;
      if (planned && settled) {
        expectedFollowUps += 1;
        if (ran === 0) followUpsLost.push(`${job.id} (${kind})`);
        if (ran > 1) followUpsDoubled.push(`${job.id} (${kind} x${ran})`);
      } else if (ran > 0) {
        unsettledParent.push(
          `${job.id} (${kind} ran ${ran}, parent ${parentOk ? 'completed' : parentFailed ? 'dead-lettered' : 'not settled'})`,
        );
      }
    }
  }

  // Poison.
  const poisonEntries = input.deadLetters.filter((e) => e.raw?.includes('chaos-poison-'));
  let poisonDead = 0;
  let poisonOther = 0;
  // What became of the bodies not dead-lettered as poison, for the problem's text.
  const poisonUnaccounted: string[] = [];
  for (const raw of plan.poison) {
    const entries = poisonEntries.filter((e) => e.raw === raw);
    if (entries.some((e) => e.reason === 'poison')) poisonDead += 1;
    else if (entries.length > 0) {
      poisonOther += 1;
      poisonUnaccounted.push(`${raw.slice(0, 40)}: dead-lettered as ${entries.map((e) => `${e.reason} (${e.id})`).join(', ')}`);
    } else poisonUnaccounted.push(`${raw.slice(0, 40)}: not in the dead-letter store`);
  }
  const poisonMissing = plan.poison.length - poisonDead - poisonOther;

  // Recovery after SIGKILL.
  const recoveryMs: number[] = [];
  for (const kill of events.filter((e) => e.action === 'kill')) {
    for (const run of runs) {
      if (run.pid !== kill.pid || run.started_at > kill.at || (run.ended_at !== null && run.ended_at <= kill.at)) continue;
      const next = (runsByJob.get(run.job) ?? []).find((r) => r.pid !== kill.pid && r.started_at >= kill.at);
      if (next !== undefined) recoveryMs.push(next.started_at - kill.at);
    }
  }

  // Fencing of woken zombies.
  let zombieJobs = 0;
  let zombieFenced = 0;
  let acceptedAfterDone = 0;
  const accepted: string[] = [];
  for (const worker of input.workers) {
    const pidEvents = eventsByPid.get(worker.pid) ?? [];
    for (const stop of pidEvents.filter((e) => e.action === 'stop')) {
      const cont = pidEvents.find((e) => e.action === 'cont' && e.at >= stop.at);
      if (cont === undefined) continue;
      const held = runs.filter((r) => r.pid === worker.pid && r.started_at <= stop.at && (r.ended_at === null || r.ended_at > stop.at));
      for (const run of held) {
        const others = (runsByJob.get(run.job) ?? []).filter((r) => r.pid !== worker.pid && r.started_at >= stop.at);
        if (others.length === 0) continue;
        zombieJobs += 1;
        // Lines after the woken worker claimed the job again belong to that later run, not to the zombie's.
        const rerun = (runsByJob.get(run.job) ?? []).find((r) => r.pid === worker.pid && r.started_at > run.started_at);
        const until = rerun?.started_at ?? Number.POSITIVE_INFINITY;
        zombieFenced += worker.fenced.filter((f) => f.id === run.job && f.at >= cont.at && f.at < until).length;
        for (const settle of worker.settles.filter((s) => s.id === run.job && s.at >= cont.at && s.at < until)) {
          const holding = others.some((r) => r.started_at <= settle.at && effectiveEnd(r) >= settle.at);
          if (holding) accepted.push(`${run.job}: pid ${worker.pid} reported ${settle.outcome} at ${settle.at}`);
          else acceptedAfterDone += 1;
        }
      }
    }
  }

  // A worker that finds its backend unreachable at start exits at once by design (exit code 2): a
  // connection cut during its start-up does that, and the runner starts another.
  const unexpected = input.workers.filter((w) => w.exitedAt !== undefined && !w.killed && !w.terminating);
  const refusedAtStart = unexpected.filter((w) => w.exitCode === EXIT_UNREACHABLE).length;
  const unexpectedExits = unexpected.length - refusedAtStart;
  const workerErrors = input.workers.reduce((sum, w) => sum + w.errorCount, 0);

  if (lost.length > 0) problems.push({ kind: 'loss', text: `${lost.length} job(s) lost: ${lost.slice(0, 5).join(', ')}` });
  if (concurrentLive.length > 0)
    problems.push({
      kind: 'concurrent',
      text: `${concurrentLive.length} concurrent run(s) within a live lease: ${concurrentLive.slice(0, 3).join('; ')}`,
    });
  if (zombieTakenEarly > 0)
    problems.push({ kind: 'overlap', text: `${zombieTakenEarly} job(s) taken from a paused worker before its lease could have run out` });
  if (followUpsLost.length > 0)
    problems.push({ kind: 'loss', text: `${followUpsLost.length} follow-up(s) lost: ${followUpsLost.slice(0, 5).join(', ')}` });
  if (unsettledParent.length > 0)
    problems.push({
      kind: 'loss',
      text: `${unsettledParent.length} follow-up(s) ran for a parent that did not settle so: ${unsettledParent.slice(0, 5).join(', ')}`,
    });
  if (poisonMissing + poisonOther > 0)
    problems.push({
      kind: 'loss',
      text: `${poisonMissing + poisonOther} poison bod(ies) not dead-lettered as poison: ${poisonUnaccounted.slice(0, 5).join('; ')}`,
    });
  if (accepted.length > 0)
    problems.push({ kind: 'overlap', text: `${accepted.length} settle(s) by a woken zombie accepted: ${accepted.slice(0, 3).join('; ')}` });
  if (unexpectedExits > 0) problems.push({ kind: 'crash', text: `${unexpectedExits} worker(s) exited on their own` });

  return {
    jobs: plan.jobs.length,
    runs: runs.length,
    completed,
    deadLetteredFailed,
    lost,
    lostAsMaxDeliveries,
    concurrentLive,
    zombieOverlaps,
    zombieTakenEarly,
    serverReleasedOverlaps,
    givenUpOverlaps,
    cutOverlaps,
    reruns,
    unexplainedReruns: unexplained,
    followUps: { expected: expectedFollowUps, ran: ranFollowUps, lost: followUpsLost, doubled: followUpsDoubled, unsettledParent },
    poison: { pushed: plan.poison.length, deadLettered: poisonDead, missing: poisonMissing, otherReason: poisonOther },
    recoveryMs,
    zombies: { jobs: zombieJobs, fenced: zombieFenced, accepted, acceptedAfterDone },
    unexpectedExits,
    refusedAtStart,
    workerErrors,
    problems,
  };
}

/** The p-quantile (0..1) of `values`, nearest rank; undefined when empty. */
export function quantile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}
