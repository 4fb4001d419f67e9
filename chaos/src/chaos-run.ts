import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DeadLetterEntry, dispatchMany } from '@queuekit/core';
import { openLedgerDatabase } from '../worker/ledger.mjs';
import { type Analysis, analyse, type LedgerRun } from './analyse.js';
import { type ChaosBackend, type DriverName, openBackend } from './backends.js';
import { planRun, Random } from './plan.js';
import { formatRun } from './report.js';
import { type ChaosEvent, WorkerPool, type WorkerProcess } from './worker-pool.js';

/** Settings of one driver's run. */
export interface ChaosRunOptions {
  readonly driver: DriverName;
  readonly jobs: number;
  /** How long the random actions go on, in ms. */
  readonly chaosMs: number;
  readonly seed: number;
  readonly workers: number;
  readonly concurrency: number;
  /** The lease the workers use, in ms; undefined leaves the Worker's default. */
  readonly leaseMs: number | undefined;
  /** Keep the run's folder (ledger, SQLite queue) even when nothing failed. */
  readonly keep: boolean;
  readonly log: (line: string) => void;
}

/** The Worker's default lease, in ms (what a config without `worker.leaseMs` gets). */
export const WORKER_DEFAULT_LEASE_MS = 3_000;

const CLI_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const CONFIG_FILE = fileURLToPath(new URL('../worker/queue.config.mjs', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one driver under chaos and returns its analysis (and prints its table). */
export async function runChaos(options: ChaosRunOptions): Promise<Analysis> {
  const leaseMs = options.leaseMs ?? WORKER_DEFAULT_LEASE_MS;
  const dir = mkdtempSync(join(tmpdir(), `qk-chaos-${options.driver}-`));
  const ledgerFile = join(dir, 'ledger.sqlite');
  openLedgerDatabase(ledgerFile, { create: true }).close();
  const backend = await openBackend(options.driver, { leaseMs, dir });
  const random = new Random(options.seed);
  const runTag = `c${options.seed.toString(36)}`;
  const { plan, jobs } = planRun(random, options.jobs, leaseMs, runTag, backend.queue);
  const events: ChaosEvent[] = [];
  // The actions go into the ledger too, so a kept run can be examined afterwards.
  const books = openLedgerDatabase(ledgerFile);
  const insertEvent = books.prepare('INSERT INTO events (at, action, pid, detail) VALUES (?, ?, ?, ?)');
  const record = (event: ChaosEvent) => {
    events.push(event);
    insertEvent.run(event.at, event.action, event.pid, event.detail ?? null);
  };
  const pool = new WorkerPool({
    cliBin: CLI_BIN,
    configFile: CONFIG_FILE,
    dir,
    record,
    env: {
      ...process.env,
      CHAOS_CONNECTION: JSON.stringify(backend.connection),
      CHAOS_QUEUE: backend.queue,
      CHAOS_LEDGER: ledgerFile,
      CHAOS_CONCURRENCY: String(options.concurrency),
      ...(options.leaseMs === undefined ? {} : { CHAOS_LEASE_MS: String(options.leaseMs) }),
    },
  });
  options.log(
    `${options.driver}: seed ${options.seed}, ${plan.jobs.length} jobs + ${plan.poison.length} poison, ${options.workers} workers x ${options.concurrency}, ${options.chaosMs / 1000} s of chaos; files in ${dir}`,
  );
  let analysis: Analysis | undefined;
  try {
    for (let i = 0; i < options.workers; i++) pool.spawn();
    const chaosStart = Date.now();
    const chaosEnd = chaosStart + options.chaosMs;
    // The runner's pushes and server restarts take turns: a batch cut by a restart fails its
    // producer (as it should), and its jobs could not be told pushed or not; the chaos is the workers'.
    const serverTurns = new Turns();
    const pushing = pushOverTime(backend, jobs, plan.poison, chaosStart + options.chaosMs * 0.6, random, serverTurns);
    // Awaited after the chaos; a failure before then is reported there, not as an unhandled rejection.
    pushing.catch(() => undefined);
    const pauses: Promise<void>[] = [];
    while (Date.now() < chaosEnd) {
      await sleep(random.int(400, 1_600));
      if (Date.now() >= chaosEnd) break;
      await act(random, pool, backend, leaseMs, record, pauses, serverTurns);
      // Replaces workers that exited on their own (one that finds its backend unreachable at start exits).
      while (pool.serving.length < options.workers) pool.spawn();
    }
    await pushing;
    await Promise.all(pauses);
    while (pool.serving.length < options.workers) pool.spawn();
    const drainStart = Date.now();
    const drained = await waitDrained(backend, Math.max(60_000, 10 * leaseMs));
    const drainMs = Date.now() - drainStart;
    await pool.shutdown(15_000);
    const deadLetters = await allDeadLetters(backend);
    const db = openLedgerDatabase(ledgerFile);
    const runs = db.prepare('SELECT * FROM runs').all() as LedgerRun[];
    db.close();
    analysis = analyse({
      plan,
      runs,
      events,
      workers: pool.all,
      deadLetters,
      leaseMs,
      serverReleasesLeases: backend.restart?.releasesLeases === true || backend.drop?.releasesLeases === true,
    });
    if (!drained) analysis.problems.push({ kind: 'loss', text: 'the queue did not drain after the chaos stopped' });
    options.log(
      formatRun(
        {
          driver: options.driver,
          seed: options.seed,
          workers: options.workers,
          concurrency: options.concurrency,
          leaseMs,
          chaosMs: options.chaosMs,
          drainMs,
          drained,
          events,
          dropLabel: backend.drop?.label,
          restartLabel: backend.restart?.label,
          notes: backend.notes,
        },
        analysis,
      ),
    );
    for (const problem of analysis.problems) options.log(`FAIL ${options.driver} (${problem.kind}): ${problem.text}`);
    for (const rerun of analysis.unexplainedReruns.slice(0, 5)) options.log(`${options.driver}: re-run no action explains: ${rerun}`);
    if (analysis.problems.length > 0) {
      logWorkerErrors(pool.all, options.log);
      // The store as the runner read it, kept with the ledger for a closer look.
      writeFileSync(join(dir, 'dead-letters.json'), `${JSON.stringify(deadLetters, null, 2)}\n`);
    }
    return analysis;
  } finally {
    await pool.shutdown(5_000);
    books.close();
    await backend.cleanup();
    if (options.keep || analysis === undefined || analysis.problems.length > 0) options.log(`${options.driver}: run files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs tasks one at a time, in the order they asked. */
class Turns {
  #last: Promise<unknown> = Promise.resolve();

  take<T>(task: () => Promise<T>): Promise<T> {
    const turn = this.#last.then(task);
    this.#last = turn.catch(() => undefined);
    return turn;
  }
}

/** Pushes the jobs in about twenty batches until `until`, the poison bodies among them. */
async function pushOverTime(
  backend: ChaosBackend,
  jobs: Parameters<typeof dispatchMany>[1],
  poison: readonly string[],
  until: number,
  random: Random,
  serverTurns: Turns,
): Promise<void> {
  const batches = Math.min(20, jobs.length);
  const size = Math.ceil(jobs.length / batches);
  const poisonPerBatch = Math.ceil(poison.length / batches);
  const start = Date.now();
  for (let b = 0; b < batches; b++) {
    await serverTurns.take(async () => {
      await dispatchMany(backend.driver, jobs.slice(b * size, (b + 1) * size));
      for (const raw of poison.slice(b * poisonPerBatch, (b + 1) * poisonPerBatch)) await backend.pushPoison(raw);
    });
    const due = start + ((until - start) * (b + 1)) / batches;
    await sleep(Math.max(0, due - Date.now() + random.int(0, 50)));
  }
}

/** One random action: SIGKILL or SIGTERM a worker (and start another), pause one past its lease, or cut or restart the server side. */
async function act(
  random: Random,
  pool: WorkerPool,
  backend: ChaosBackend,
  leaseMs: number,
  record: (event: ChaosEvent) => void,
  pauses: Promise<void>[],
  serverTurns: Turns,
): Promise<void> {
  const actions: [string, number][] = [
    ['kill', 3],
    ['term', 1],
    ['stop', 2],
  ];
  if (backend.drop !== undefined) actions.push(['drop', 2]);
  if (backend.restart !== undefined) actions.push(['restart', 1]);
  const total = actions.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random.next() * total;
  let action = actions[0]![0];
  for (const [name, weight] of actions) {
    roll -= weight;
    if (roll < 0) {
      action = name;
      break;
    }
  }
  const running = pool.serving.filter((w) => w.stoppedAt === undefined);
  if (running.length === 0) return;
  const target = random.pick(running);
  switch (action) {
    case 'kill':
      pool.kill(target);
      pool.spawn();
      return;
    case 'term':
      pool.term(target);
      pool.spawn();
      return;
    case 'stop': {
      // One zombie at a time, and never the last worker running.
      if (running.length < 2 || pool.serving.some((w) => w.stoppedAt !== undefined)) return;
      pool.pause(target);
      const pauseMs = leaseMs + random.int(1_000, 2_000);
      pauses.push(sleep(pauseMs).then(() => pool.resume(target)));
      return;
    }
    case 'drop': {
      const cut = await backend.drop!.run();
      record({ at: Date.now(), action: 'drop', pid: 0, detail: String(cut) });
      return;
    }
    case 'restart': {
      await serverTurns.take(async () => {
        const at = Date.now();
        await backend.restart!.run();
        record({ at, action: 'restart', pid: 0 });
      });
      return;
    }
  }
}

/**
 * Waits until the queue has nothing ready, delayed or reserved twice in a row; gives up when its
 * counts have not moved for `stallMs`.
 */
async function waitDrained(backend: ChaosBackend, stallMs: number): Promise<boolean> {
  let quiet = 0;
  let last = '';
  let movedAt = Date.now();
  while (Date.now() - movedAt < stallMs) {
    const stats = await backend.driver.stats(backend.queue);
    if (stats.ready + stats.delayed + stats.reserved === 0) {
      quiet += 1;
      if (quiet >= 2) return true;
    } else quiet = 0;
    const counts = `${stats.ready}/${stats.delayed}/${stats.reserved}`;
    if (counts !== last) {
      last = counts;
      movedAt = Date.now();
    }
    await sleep(1_000);
  }
  return false;
}

async function allDeadLetters(backend: ChaosBackend): Promise<DeadLetterEntry[]> {
  const entries: DeadLetterEntry[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await backend.driver.deadLetters.list({ queue: backend.queue, limit: 500, offset });
    entries.push(...page);
    if (page.length < 500) return entries;
  }
}

function logWorkerErrors(workers: readonly WorkerProcess[], log: (line: string) => void): void {
  for (const worker of workers) {
    if (worker.errors.length === 0) continue;
    log(`pid ${worker.pid}: ${worker.errorCount} error line(s), the last ones:`);
    for (const line of worker.errors.slice(-5)) log(`  ${line}`);
  }
}
