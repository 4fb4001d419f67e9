import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The job name the crash worker handles. */
export const CRASH_JOB_NAME = 'contract-crash';

/** What a crash worker does in its handler (see crash-child.ts). */
export type CrashMode = 'hang' | 'kill-self' | 'chaos' | 'echo';

/** How a crash worker is set up; what is left out keeps the Worker's default. */
export interface CrashChildOptions {
  readonly mode: CrashMode;
  readonly concurrency?: number;
  readonly leaseMs?: number;
  readonly waitMs?: number;
  readonly maxLostDeliveries?: number;
  readonly shutdownGraceMs?: number;
  /** Stop gracefully on SIGTERM (hand back what is unfinished after the grace period). */
  readonly handleSignals?: boolean;
  /** The Worker's `groups.concurrency`: claim group by group (drivers with `capabilities.groups`). */
  readonly groupConcurrency?: number;
}

/** A crash worker process and what it has printed so far. */
export interface CrashChild {
  readonly process: ChildProcess;
  /** Lines printed on stdout. */
  readonly lines: string[];
  /** Everything printed on stderr (for failure messages). */
  stderr: string;
  /** Resolves with the exit code or signal once the process ended. */
  readonly exited: Promise<string>;
  /** True once the process ended. */
  hasExited(): boolean;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The `--import` argument that loads tsx: a file URL of its ESM loader, found from this package or
 * the working directory, so the child does not depend on its cwd. Falls back to the bare name.
 */
export function tsxImport(): string {
  const require = createRequire(join(here, 'crash-protocol.ts'));
  for (const base of [here, process.cwd()]) {
    try {
      const manifestPath = require.resolve('tsx/package.json', { paths: [base] });
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: unknown };
      const root = (manifest.exports as Record<string, unknown> | undefined)?.['.'];
      const entry =
        typeof root === 'string'
          ? root
          : ((root as Record<string, unknown> | undefined)?.import ?? (root as Record<string, unknown> | undefined)?.default);
      if (typeof entry === 'string') return pathToFileURL(join(dirname(manifestPath), entry)).href;
    } catch {
      // Not resolvable from this base; try the next one.
    }
  }
  return 'tsx';
}

/** Starts `crash-child.ts` on `queue` with the driver of `driverModule`. */
export function spawnCrashChild(driverModule: string, queue: string, options: CrashChildOptions): CrashChild {
  // The TypeScript source when run from src (tests), the compiled file when run from dist.
  const script = existsSync(join(here, 'crash-child.ts')) ? join(here, 'crash-child.ts') : join(here, 'crash-child.js');
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', tsxImport(), script, driverModule, queue, JSON.stringify(options)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    },
  );
  let exited = false;
  const result: CrashChild = {
    process: child,
    lines: [],
    stderr: '',
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exited = true;
        resolve(signal ?? String(code));
      });
    }),
    hasExited: () => exited,
  };
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    result.lines.push(...parts);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    result.stderr += chunk;
  });
  return result;
}
