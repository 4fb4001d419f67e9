import { spawn } from 'node:child_process';
import { isAbsolute } from 'node:path';
import {
  ConfigError,
  defineJob,
  type JobContext,
  type JobDefaults,
  type JobDefinition,
  type JobMiddleware,
  UnrecoverableError,
} from '@queuekit/core';
import { CappedOutput } from './capped-output.js';
import { CommandFailedError } from './command-failed-error.js';
import { type CheckIssue, isRecord, payloadSchema } from './payload-check.js';
import { signalProcessTree } from './process-tree.js';

/** The payload of a ShellJob: which allowed program, with which arguments (passed as data, never through a shell). */
export interface ShellJobPayload {
  /** A name from the job's `programs` allow-list. */
  readonly program: string;
  /** Arguments, each passed to the program as one argv entry: `;`, `$(…)`, quotes and globs are just text. */
  readonly args?: readonly string[];
  /** Text written to the program's stdin (then closed); none when absent. */
  readonly stdin?: string;
}

/** What a ShellJob returns when the program exits 0. */
export interface ShellJobResult {
  readonly exitCode: 0;
  /** The first `maxOutputBytes` of stdout. */
  readonly stdout: string;
  /** The last `maxOutputBytes` of stderr. */
  readonly stderr: string;
  /** True when stdout or stderr was longer than the cap. */
  readonly truncated: boolean;
  /** How long the program ran, in ms. */
  readonly durationMs: number;
}

/** Options of {@link createShellJob}, set by the application (never by a payload). */
export interface ShellJobOptions extends JobDefaults {
  /** Job name; default `shell`. */
  readonly name?: string;
  /**
   * The allow-list: payload name → absolute path of the executable. A payload naming anything else
   * is refused (at dispatch, and dead-lettered as `invalid-payload` at run). Required, non-empty.
   */
  readonly programs: Readonly<Record<string, string>>;
  /** Working directory of every run (absolute path). */
  readonly cwd: string;
  /** The whole environment of the program; default empty (nothing of the worker's leaks in). */
  readonly env?: Readonly<Record<string, string>>;
  /** Bytes of stdout (the first) and of stderr (the last) kept; default 65,536 each. */
  readonly maxOutputBytes?: number;
  /** How long after SIGTERM the process group gets SIGKILL, when the job times out or is aborted; default 2,000 ms. */
  readonly killGraceMs?: number;
  /** Job middleware around the run. */
  readonly middleware?: readonly JobMiddleware<ShellJobPayload>[];
}

const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
const DEFAULT_KILL_GRACE_MS = 2_000;

/**
 * A job that runs one allow-listed program with an argument array through `spawn` — never a shell
 * — in an explicit working directory and environment. Output is captured up to a cap; the job's
 * timeout or abort signal sends SIGTERM to the program's whole process group, then SIGKILL after
 * `killGraceMs`; a non-zero exit fails the attempt with a {@link CommandFailedError} carrying the
 * exit code and the tail of stderr.
 *
 * ```ts
 * const convert = createShellJob({ programs: { convert: '/usr/bin/convert' }, cwd: '/srv/media', timeoutMs: 60_000 });
 * await convert.create({ program: 'convert', args: ['in.png', '-resize', '50%', 'out.png'] }).dispatch(driver);
 * ```
 */
export function createShellJob(options: ShellJobOptions): JobDefinition<ShellJobPayload, ShellJobResult> {
  const { name = 'shell', programs, cwd, env = {}, maxOutputBytes, killGraceMs, middleware, ...defaults } = options;
  const allowed = checkPrograms(programs);
  if (typeof cwd !== 'string' || !isAbsolute(cwd))
    throw new ConfigError(`shell job ${name}: cwd must be an absolute path, got ${String(cwd)}`);
  const outputCap = positiveOption(name, 'maxOutputBytes', maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES);
  const graceMs = positiveOption(name, 'killGraceMs', killGraceMs, DEFAULT_KILL_GRACE_MS);
  const environment = { ...env };
  const schema = payloadSchema<ShellJobPayload>((value) => shellPayloadIssues(value, allowed));
  return defineJob(
    name,
    (payload: ShellJobPayload, ctx: JobContext) =>
      runProgram(allowed.get(payload.program) as string, payload, { cwd, env: environment, outputCap, graceMs, name }, ctx),
    { ...defaults, schema, ...(middleware === undefined ? {} : { middleware }) },
  ) as JobDefinition<ShellJobPayload, ShellJobResult>;
}

function checkPrograms(programs: Readonly<Record<string, string>>): Map<string, string> {
  if (!isRecord(programs) || Object.keys(programs).length === 0) {
    throw new ConfigError('shell job: programs must name at least one allowed program (name → absolute path); nothing runs without one');
  }
  const allowed = new Map<string, string>();
  for (const [key, path] of Object.entries(programs)) {
    if (typeof path !== 'string' || !isAbsolute(path)) {
      throw new ConfigError(`shell job: programs.${key} must be an absolute path, got ${String(path)}`);
    }
    allowed.set(key, path);
  }
  return allowed;
}

function positiveOption(job: string, key: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!(Number.isInteger(result) && result > 0))
    throw new ConfigError(`shell job ${job}: ${key} must be an integer > 0, got ${String(value)}`);
  return result;
}

function shellPayloadIssues(value: unknown, allowed: ReadonlyMap<string, string>): CheckIssue[] {
  if (!isRecord(value)) return [{ path: [], message: 'expected an object { program, args?, stdin? }' }];
  const issues: CheckIssue[] = [];
  if (typeof value.program !== 'string' || !allowed.has(value.program)) {
    issues.push({ path: ['program'], message: `not an allowed program (allowed: ${[...allowed.keys()].join(', ')})` });
  }
  if (value.args !== undefined) {
    if (!Array.isArray(value.args)) issues.push({ path: ['args'], message: 'expected an array of strings' });
    else
      value.args.forEach((arg, index) => {
        if (typeof arg !== 'string') issues.push({ path: ['args', index], message: 'expected a string' });
        else if (arg.includes('\0')) issues.push({ path: ['args', index], message: 'contains a NUL character' });
      });
  }
  if (value.stdin !== undefined && typeof value.stdin !== 'string') issues.push({ path: ['stdin'], message: 'expected a string' });
  return issues;
}

interface RunSettings {
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly outputCap: number;
  readonly graceMs: number;
  readonly name: string;
}

function runProgram(path: string, payload: ShellJobPayload, settings: RunSettings, ctx: JobContext): Promise<ShellJobResult> {
  const started = Date.now();
  const stdout = new CappedOutput(settings.outputCap, 'head');
  const stderr = new CappedOutput(settings.outputCap, 'tail');
  return new Promise<ShellJobResult>((resolve, reject) => {
    const signal = ctx.signal;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    // detached: the program leads a process group of its own, so a timeout ends everything it started.
    const child = spawn(path, payload.args ?? [], {
      cwd: settings.cwd,
      env: settings.env,
      shell: false,
      detached: true,
      stdio: [payload.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      signalProcessTree(child, 'SIGTERM');
      killTimer = setTimeout(() => signalProcessTree(child, 'SIGKILL'), settings.graceMs);
      killTimer.unref();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    if (payload.stdin !== undefined) {
      child.stdin?.on('error', () => undefined); // a program that exits without reading its stdin is not an error of ours
      child.stdin?.end(payload.stdin);
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      const reason = `shell job ${settings.name}: cannot start ${payload.program} (${path}): ${error.message}`;
      // A missing or non-executable program will not start on a later attempt either.
      reject(error.code === 'ENOENT' || error.code === 'EACCES' ? new UnrecoverableError(reason, { cause: error }) : error);
    });
    // Whatever the program left running in its group (holding its pipes open) ends with it.
    child.once('exit', () => signalProcessTree(child, 'SIGKILL'));
    child.once('close', (exitCode, exitSignal) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      if (exitCode === 0) {
        resolve({
          exitCode: 0,
          stdout: stdout.text(),
          stderr: stderr.text(),
          truncated: stdout.truncated || stderr.truncated,
          durationMs: Date.now() - started,
        });
        return;
      }
      const tail = stderr.text();
      const how = exitCode === null ? `was killed by ${exitSignal}` : `exited with code ${exitCode}`;
      reject(
        new CommandFailedError(
          `shell job ${settings.name}: ${payload.program} ${how}${tail === '' ? '' : `: ${tail.trim().slice(-500)}`}`,
          {
            exitCode,
            signal: exitSignal,
            stderrTail: tail,
          },
        ),
      );
    });
  });
}
