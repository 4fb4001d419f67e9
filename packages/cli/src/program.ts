import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { isQueueError, maskSensitiveText } from '@queuekit/core';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CliError, EXIT_FAILURE } from './cli-error.js';
import { runDashboard } from './commands/dashboard.js';
import { runDlqList, runDlqPurge, runDlqRetry, runDlqShow } from './commands/dlq.js';
import { runHealth } from './commands/health.js';
import { runJobCancel, runJobShow, runJobsList, runPauseResume } from './commands/jobs.js';
import { runMigrate } from './commands/migrate.js';
import { runPush } from './commands/push.js';
import { runScheduleList, runScheduleRun } from './commands/schedule.js';
import { runStats } from './commands/stats.js';
import { runWork } from './commands/work.js';
import { CliContext, type CliIO } from './context.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The process's own streams, working directory and environment. */
export function processIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
    interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
    terminal: process.stdout.isTTY === true,
    confirm: async (question) => {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        return /^y(es)?$/i.test((await rl.question(question)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

const integer =
  (min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}.`);
    return n;
  };

const seconds = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds >= 0.');
  return n;
};

/** Collects a repeatable, comma-separated list: `--queue a,b --queue c`. */
const list = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== ''),
];

type Runner = (ctx: CliContext) => Promise<number>;

/**
 * The commander program of the `queue` binary. `run` executes a command's action with a context
 * built from the global options; the program itself never exits the process.
 */
export function createProgram(io: CliIO, run: (command: Command, runner: Runner) => Promise<void>): Command {
  const program = new Command('queue')
    .description('Operate queuekit queues: health, workers, dead letters, migrations.')
    .version(VERSION, '-V, --version')
    .option('-c, --config <path>', 'config file (default: queue.config.mjs, .js or .ts in this directory or a parent)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const connectionOption = () => new Option('--connection <name>', 'connection to use (default: the config default, or QUEUE_CONNECTION)');

  program
    .command('health')
    .description('Check every connection and queue; exit 0 healthy, 1 degraded, 2 unreachable (usable as a probe)')
    .option('--json', `print the report as JSON (schema: @queuekit/cli/health.schema.json, schemaVersion 1)`)
    .addOption(new Option('--connection <name>', 'only this connection (repeatable; default: every connection)').argParser(list))
    .addOption(new Option('--queue <name>', 'queues to check (repeatable or comma-separated; default: from the config)').argParser(list))
    .addOption(new Option('--max-ready <n>', 'degraded when a queue has more ready jobs').argParser(integer(0)))
    .addOption(new Option('--max-oldest-age <seconds>', 'degraded when the oldest ready job waited longer').argParser(seconds))
    .addOption(new Option('--max-dead <n>', 'degraded when a queue has more dead letters').argParser(integer(0)))
    .addOption(new Option('--min-workers <n>', 'degraded when fewer workers were seen on a connection').argParser(integer(0)))
    .addOption(new Option('--timeout <seconds>', 'per connection; slower counts as unreachable (default 5)').argParser(seconds))
    .action((options, command: Command) => run(command, (ctx) => runHealth(ctx, options)));

  program
    .command('work')
    .description('Run the configured job handlers until SIGTERM/SIGINT (which drain), a limit, or with --once an empty queue')
    .addOption(connectionOption())
    .addOption(new Option('--queue <names>', 'queues in priority order (repeatable or comma-separated)').argParser(list))
    .addOption(new Option('--concurrency <n>', 'jobs run at once (default 1)').argParser(integer(1)))
    .addOption(
      new Option('--group-concurrency <n>', 'claim group by group: at most n jobs of one group at once, across every worker').argParser(
        integer(1),
      ),
    )
    .addOption(new Option('--max-jobs <n>', 'stop after taking this many jobs').argParser(integer(1)))
    .addOption(new Option('--max-time <seconds>', 'stop taking jobs after this long').argParser(seconds))
    .addOption(new Option('--memory <mb>', 'stop taking jobs once the resident set exceeds this many MiB').argParser(integer(1)))
    .addOption(
      new Option('--status <seconds>', 'print a status line this often; 0 turns it off (default: 5 on a terminal, else off)').argParser(
        seconds,
      ),
    )
    .option('--once', 'drain the jobs that are ready, then exit')
    .option('--json', 'print one JSON object per line instead of text')
    .action((options, command: Command) => run(command, (ctx) => runWork(ctx, options)));

  const dlq = program.command('dlq').description('Inspect, retry and purge dead letters');
  dlq
    .command('list')
    .description('List dead letters, most recently failed first')
    .addOption(connectionOption())
    .option('--queue <name>', 'only this queue')
    .addOption(new Option('--limit <n>', 'at most this many (default 50)').argParser(integer(1)))
    .addOption(new Option('--offset <n>', 'skip this many first').argParser(integer(0)))
    .option('--json', 'print JSON')
    .option('--reveal', 'print payloads and errors as stored (default: sensitive values masked)')
    .action((options, command: Command) => run(command, (ctx) => runDlqList(ctx, options)));
  dlq
    .command('show')
    .description('Show one dead letter: error, stack, attempts, payload')
    .argument('<id>', 'job id')
    .addOption(connectionOption())
    .option('--json', 'print JSON')
    .option('--reveal', 'print the payload and error as stored (default: sensitive values masked)')
    .action((id: string, options, command: Command) => run(command, (ctx) => runDlqShow(ctx, id, options)));
  dlq
    .command('retry')
    .description('Move a dead letter (or all, or all of a queue) back to its queue as a fresh job')
    .argument('[id]', 'job id')
    .addOption(connectionOption())
    .option('--all', 'retry every dead letter (with --queue: of that queue)')
    .option('--queue <name>', 'with --all: only this queue')
    .option('--json', 'print JSON')
    .action((id: string | undefined, options, command: Command) => run(command, (ctx) => runDlqRetry(ctx, id, options)));
  dlq
    .command('purge')
    .description('Delete dead letters (asks first unless --yes)')
    .addOption(connectionOption())
    .addOption(new Option('--ids <ids>', 'only these job ids (repeatable or comma-separated; at most 1,000)').argParser(list))
    .option('--queue <name>', 'only this queue')
    .addOption(new Option('--older-than <seconds>', 'only those whose last failure is older').argParser(seconds))
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print JSON')
    .action((options, command: Command) => run(command, (ctx) => runDlqPurge(ctx, options)));

  const schedule = program.command('schedule').description('List the cron schedules of the config, or fire one by hand');
  schedule
    .command('list')
    .description(
      'Each schedule: next tick, last fired tick (by any scheduler), its job state where the driver has lookups, last manual run',
    )
    .option('--json', 'print JSON')
    .action((options, command: Command) => run(command, (ctx) => runScheduleList(ctx, options)));
  schedule
    .command('run')
    .description("Push a schedule's job now, once; recorded as a manual run, not as a tick")
    .argument('<name>', 'schedule name')
    .option('--json', 'print JSON')
    .action((name: string, options, command: Command) => run(command, (ctx) => runScheduleRun(ctx, name, options)));

  const job = program.command('job').description('Look up or cancel one job by id');
  job
    .command('show')
    .description(
      'Show a job in any state: waiting, delayed, active (lease holder), completed (result), failed (error), cancelled; exit 1 when unknown',
    )
    .argument('<id>', 'job id')
    .addOption(connectionOption())
    .option('--queue <name>', "the job's queue, when known")
    .option('--json', 'print JSON')
    .option('--reveal', 'print the payload, result and error as stored (default: sensitive values masked)')
    .action((id: string, options, command: Command) => run(command, (ctx) => runJobShow(ctx, id, options)));
  job
    .command('cancel')
    .description(
      "Cancel a waiting, delayed or active job (an active handler's signal aborts at its next lease renewal); exit 1 when unknown",
    )
    .argument('<id>', 'job id')
    .addOption(connectionOption())
    .option('--queue <name>', "the job's queue, when known")
    .option('--json', 'print JSON')
    .action((id: string, options, command: Command) => run(command, (ctx) => runJobCancel(ctx, id, options)));

  const jobs = program.command('jobs').description('List jobs by state');
  jobs
    .command('list')
    .description('Jobs of one queue in one state: waiting and delayed in run order, active, or most recently finished first')
    .addOption(connectionOption())
    .requiredOption('--queue <name>', 'the queue')
    .option('--state <state>', 'waiting, delayed, active, completed, failed or cancelled (default waiting)')
    .addOption(new Option('--limit <n>', 'at most this many (default 50, at most 1000)').argParser(integer(1)))
    .addOption(new Option('--offset <n>', 'skip this many first').argParser(integer(0)))
    .option('--json', 'print JSON')
    .option('--reveal', 'print payloads, results and errors as stored (default: sensitive values masked)')
    .action((options, command: Command) => run(command, (ctx) => runJobsList(ctx, options)));

  program
    .command('pause')
    .description('Stop every worker of the backend from taking jobs of a queue (pushes are still stored)')
    .argument('<queue>', 'queue name')
    .addOption(connectionOption())
    .option('--json', 'print JSON')
    .action((queue: string, options, command: Command) => run(command, (ctx) => runPauseResume(ctx, queue, true, options)));
  program
    .command('resume')
    .description('Let workers take jobs of a paused queue again')
    .argument('<queue>', 'queue name')
    .addOption(connectionOption())
    .option('--json', 'print JSON')
    .action((queue: string, options, command: Command) => run(command, (ctx) => runPauseResume(ctx, queue, false, options)));

  program
    .command('migrate')
    .description('Bring the schema of a database connection to the newest version (other drivers have none)')
    .addOption(connectionOption())
    .option('--all', 'every configured connection')
    .option('--json', 'print JSON')
    .action((options, command: Command) => run(command, (ctx) => runMigrate(ctx, options)));

  program
    .command('dashboard')
    .description('Serve the web dashboard over every connection until SIGTERM/SIGINT (loopback by default)')
    .addOption(new Option('--port <n>', 'port to listen on (default 7070; 0 picks a free one)').argParser(integer(0)))
    .option('--host <address>', 'address to bind (default 127.0.0.1; another address needs --token)')
    .option('--read-only', 'hide and refuse every action (retry, purge)')
    .option('--token <token>', 'require this token on every request (or QUEUE_DASHBOARD_TOKEN)')
    .addOption(new Option('--refresh <seconds>', 'how often open pages refresh their numbers (default 5)').argParser(seconds))
    .action((options, command: Command) => run(command, (ctx) => runDashboard(ctx, options)));

  program
    .command('stats')
    .description('Counts per queue: ready, delayed, reserved, dead, oldest ready age')
    .addOption(connectionOption())
    .addOption(new Option('--queue <name>', 'queues (repeatable or comma-separated; default: from the config)').argParser(list))
    .option('--json', 'print JSON')
    .action((options, command: Command) => run(command, (ctx) => runStats(ctx, options)));

  program
    .command('push')
    .description('Dispatch one job of a type the config defines')
    .argument('<name>', 'job name')
    .option('--payload <json>', 'payload as JSON (default: none)')
    .addOption(new Option('--delay <ms>', 'run no sooner than this many ms from now').argParser(integer(0)))
    .option('--queue <name>', "queue (default: the job's own, else default)")
    .option('--priority <p>', 'HIGH, MEDIUM, LOW or 0..1000000; lower runs first')
    .addOption(new Option('--attempts <n>', 'runs allowed before a failing job is dead-lettered').argParser(integer(1)))
    .addOption(connectionOption())
    .option('--json', 'print JSON')
    .action((name: string, options, command: Command) => run(command, (ctx) => runPush(ctx, name, options)));

  return program;
}

/** One line for an error: the message, and the cause's when it adds something; `key=value` secrets masked. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return maskSensitiveText(String(error));
  const cause = error.cause;
  if (cause instanceof Error && cause.message !== '' && !error.message.includes(cause.message)) {
    return maskSensitiveText(`${error.message}: ${cause.message}`);
  }
  return maskSensitiveText(error.message);
}

/**
 * Runs the `queue` binary with `argv` (as in process.argv) and resolves its exit code. Expected
 * errors (bad flags, config errors, queuekit errors) print one line on stderr; anything else also
 * prints its stack.
 */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let exitCode = 0;
  let ctx: CliContext | undefined;
  const program = createProgram(io, async (command, runner) => {
    ctx = new CliContext(io, (command.optsWithGlobals() as { config?: string }).config);
    exitCode = await runner(ctx);
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed help or its message.
      exitCode = error.exitCode;
    } else if (error instanceof CliError) {
      io.stderr(`error: ${describeError(error)}\n`);
      exitCode = error.exitCode;
    } else if (isQueueError(error)) {
      io.stderr(`error: ${describeError(error)}\n`);
      exitCode = EXIT_FAILURE;
    } else {
      io.stderr(`error: ${describeError(error)}\n${io.env.QUEUE_DEBUG === '1' ? `${(error as Error).stack ?? ''}\n` : ''}`);
      exitCode = EXIT_FAILURE;
    }
  } finally {
    await ctx?.close(2_000);
  }
  return exitCode;
}
