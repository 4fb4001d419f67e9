import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The package folder. */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Temp dirs live inside the package (under the git-ignored .tmp/) so config files resolve @queuekit/*. */
const TMP_ROOT = join(PACKAGE_DIR, '.tmp');

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** How the binary is started: from the TypeScript sources (through tsx) or the built dist/bin.js. */
export type BinaryMode = 'source' | 'dist';

function command(mode: BinaryMode): string[] {
  return mode === 'source'
    ? ['--conditions=source', '--import', TSX_LOADER, join(PACKAGE_DIR, 'src/bin.ts')]
    : [join(PACKAGE_DIR, 'dist/bin.js')];
}

/** The environment of a child: this one without any QUEUE_* variable, plus `env`. */
function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('QUEUE_')));
  return { ...clean, NO_COLOR: '1', ...env };
}

/** A finished run of the binary. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCli} and {@link startCli}. */
export interface RunOptions {
  readonly cwd: string;
  readonly env?: Record<string, string>;
  readonly mode?: BinaryMode;
  /** Kill the child after this long; default 20 s. */
  readonly timeoutMs?: number;
}

/** A running binary. */
export interface RunningCli {
  readonly child: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches `pattern`, rejects after `timeoutMs` or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the result once the child has exited. */
  done: Promise<CliResult>;
}

/** Starts the binary with `args`. */
export function startCli(args: readonly string[], options: RunOptions): RunningCli {
  const child = spawn(process.execPath, [...command(options.mode ?? 'source'), ...args], {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const done = new Promise<CliResult>((resolveDone) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      for (const listener of listeners) listener();
      resolveDone({ code, signal, stdout, stderr });
    });
  });
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise<void>((resolveWait, reject) => {
        const check = () => {
          if (pattern.test(stdout)) {
            cleanup();
            resolveWait();
          } else if (exited || child.exitCode !== null) {
            cleanup();
            reject(new Error(`exited before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs the binary with `args` to completion. */
export function runCli(args: readonly string[], options: RunOptions): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Runs the binary and parses its stdout as JSON. */
export async function runJson<T = Record<string, unknown>>(
  args: readonly string[],
  options: RunOptions,
): Promise<{ result: CliResult; json: T }> {
  const result = await runCli(args, options);
  try {
    return { result, json: JSON.parse(result.stdout) as T };
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** A fresh directory for one test, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = join(TMP_ROOT, `test-${randomUUID()}`);
  mkdirSync(dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `queue.config.mjs` (or another name) into `dir`. */
export function writeConfig(dir: string, source: string, name = 'queue.config.mjs'): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

/** Waits until `predicate` holds, polling every 50 ms, for at most `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
