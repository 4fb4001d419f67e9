import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Something that happened to a worker process or a server, with its time (epoch ms). */
export interface ChaosEvent {
  readonly at: number;
  readonly action: 'spawn' | 'kill' | 'term' | 'stop' | 'cont' | 'exit' | 'drop' | 'restart';
  /** The worker's pid; 0 for a server-side action. */
  readonly pid: number;
  readonly detail?: string;
}

/** A settle a worker reported on stdout (`queue work --json` job lines): after its driver call returned. */
export interface SettleLine {
  readonly at: number;
  readonly id: string;
  readonly outcome: string;
}

/** One `queue work` process. */
export class WorkerProcess {
  readonly pid: number;
  readonly settles: SettleLine[] = [];
  /** Job ids whose settle the worker found fenced (its log: "lease lost before the job was settled"), with the time. */
  readonly fenced: SettleLine[] = [];
  /** Worker error lines on stderr (driver errors it rode out), the last few kept. */
  readonly errors: string[] = [];
  errorCount = 0;
  stoppedAt: number | undefined;
  terminating = false;
  killed = false;
  exitedAt: number | undefined;
  exitCode: number | null = null;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    this.pid = child.pid as number;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    createInterface({ input: child.stdout! }).on('line', (line) => this.#stdout(line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.#stderr(line));
  }

  /** Whether the process may be running jobs now: not exited, not paused. */
  get alive(): boolean {
    return this.exitedAt === undefined && this.stoppedAt === undefined;
  }

  #stdout(line: string): void {
    if (!line.startsWith('{')) return;
    const record = JSON.parse(line) as { event?: string; time?: string; id?: string; outcome?: string };
    if (record.event === 'job' && record.id !== undefined && record.outcome !== undefined) {
      this.settles.push({ at: Date.parse(record.time ?? ''), id: record.id, outcome: record.outcome });
    }
  }

  #stderr(line: string): void {
    if (line.startsWith('{')) {
      try {
        const record = JSON.parse(line) as { msg?: string; id?: string; time?: string };
        if (record.msg?.startsWith('lease lost before the job was settled') === true && record.id !== undefined) {
          this.fenced.push({ at: Date.parse(record.time ?? ''), id: record.id, outcome: 'fenced' });
          return;
        }
      } catch {
        // Not a log record: kept below as an error line.
      }
    }
    this.errorCount += 1;
    this.errors.push(line);
    if (this.errors.length > 20) this.errors.shift();
  }
}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** `packages/cli/dist/bin.js`. */
  readonly cliBin: string;
  readonly configFile: string;
  /** Folder for each worker's whole stderr (`worker-<pid>.stderr`). */
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly record: (event: ChaosEvent) => void;
}

/** The `queue work` processes of one run. */
export class WorkerPool {
  readonly all: WorkerProcess[] = [];
  readonly #o: WorkerPoolOptions;

  constructor(options: WorkerPoolOptions) {
    this.#o = options;
  }

  /** Workers that are neither exiting nor gone (paused ones included). */
  get serving(): WorkerProcess[] {
    return this.all.filter((w) => w.exitedAt === undefined && !w.terminating && !w.killed);
  }

  spawn(): WorkerProcess {
    const child = spawn(process.execPath, [this.#o.cliBin, 'work', '--config', this.#o.configFile, '--json'], {
      env: this.#o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const worker = new WorkerProcess(child);
    child.stderr?.pipe(createWriteStream(join(this.#o.dir, `worker-${worker.pid}.stderr`)));
    this.all.push(worker);
    this.#o.record({ at: Date.now(), action: 'spawn', pid: worker.pid });
    child.once('exit', (code, signal) => {
      worker.exitedAt = Date.now();
      worker.exitCode = code;
      this.#o.record({ at: worker.exitedAt, action: 'exit', pid: worker.pid, detail: signal ?? `code ${code}` });
    });
    return worker;
  }

  kill(worker: WorkerProcess): void {
    worker.killed = true;
    this.#o.record({ at: Date.now(), action: 'kill', pid: worker.pid });
    worker.child.kill('SIGKILL');
  }

  term(worker: WorkerProcess): void {
    worker.terminating = true;
    this.#o.record({ at: Date.now(), action: 'term', pid: worker.pid });
    worker.child.kill('SIGTERM');
  }

  pause(worker: WorkerProcess): void {
    worker.stoppedAt = Date.now();
    this.#o.record({ at: worker.stoppedAt, action: 'stop', pid: worker.pid });
    worker.child.kill('SIGSTOP');
  }

  resume(worker: WorkerProcess): void {
    if (worker.stoppedAt === undefined) return;
    // Recorded first: the woken process may start a run before this process reads the clock again.
    this.#o.record({ at: Date.now(), action: 'cont', pid: worker.pid });
    worker.child.kill('SIGCONT');
    worker.stoppedAt = undefined;
  }

  /** Resumes paused workers, asks every one to stop (SIGTERM), and kills those still there after `graceMs`. */
  async shutdown(graceMs: number): Promise<void> {
    const running = this.all.filter((w) => w.exitedAt === undefined);
    for (const worker of running) {
      this.resume(worker);
      if (!worker.terminating) this.term(worker);
    }
    const all = Promise.all(running.map((w) => w.exited));
    const timer = setTimeout(() => {
      for (const worker of running) if (worker.exitedAt === undefined) this.kill(worker);
    }, graceMs);
    await all;
    clearTimeout(timer);
  }
}
