import {
  type DeadLetterEntry,
  Job,
  type JobDefinition,
  type JsonValue,
  maskSensitive,
  type QueueDriver,
  quoteInput,
  resolvePriority,
} from '@queuekit/core';
import { CliError, EXIT_FAILURE, EXIT_OK } from '../cli-error.js';
import type { CliContext } from '../context.js';

/** Flags of `queue push`. */
export interface PushCommandOptions {
  readonly connection?: string;
  readonly payload?: string;
  readonly delay?: number;
  readonly queue?: string;
  readonly priority?: string;
  readonly attempts?: number;
  readonly json?: boolean;
}

/** `queue push NAME`: dispatches one job of a configured type. */
export async function runPush(ctx: CliContext, name: string, options: PushCommandOptions): Promise<number> {
  const config = await ctx.config();
  const jobs = await config.loadJobs();
  const definition = jobs.find((job) => job.name === name);
  if (definition === undefined) {
    const known = jobs.map((job) => job.name).sort();
    throw new CliError(
      known.length === 0
        ? `unknown job ${quoteInput(name)}: ${config.file} defines no jobs (add them under \`jobs\`)`
        : `unknown job ${quoteInput(name)}: expected one of ${known.join(', ')}`,
    );
  }
  let payload: JsonValue | undefined;
  if (options.payload !== undefined) {
    try {
      payload = JSON.parse(options.payload) as JsonValue;
    } catch (error) {
      throw new CliError(`--payload: expected JSON, got ${quoteInput(options.payload)} (${(error as Error).message})`);
    }
  }
  let priority: number | undefined;
  if (options.priority !== undefined) {
    const input = /^\d+$/.test(options.priority) ? Number(options.priority) : options.priority.toUpperCase();
    try {
      priority = resolvePriority(input as Parameters<typeof resolvePriority>[0]);
    } catch {
      throw new CliError(
        `--priority: expected HIGH, MEDIUM, LOW or an integer 0..1000000 (lower runs first), got ${quoteInput(options.priority)}`,
      );
    }
  }
  // A definition from defineJob builds the job with its own defaults; a bare registered job gets none.
  const create = (definition as Partial<JobDefinition>).create;
  const job: Job = typeof create === 'function' ? (create(payload) as Job) : new Job(definition.name, payload);
  if (options.queue !== undefined) job.onQueue(options.queue);
  if (options.delay !== undefined) job.delay(options.delay);
  if (priority !== undefined) job.priority(priority);
  if (options.attempts !== undefined) job.attempts(options.attempts);
  const connection = await ctx.connection(options.connection);
  const driver = await ctx.open(connection);
  const envelope = job.toEnvelope();
  // An inline driver runs the job (and its follow-ups) inside push(): what failed there is in its
  // dead-letter store now, and nowhere once this process exits.
  const inline = driver.capabilities.inline;
  const deadBefore = inline ? await deadLetterIds(driver) : new Set<string>();
  const result = await driver.push([envelope]);
  const skipped = result.skipped.includes(envelope.id);
  const failures = inline ? (await driver.deadLetters.list({ limit: 1_000 })).filter((entry) => !deadBefore.has(entry.id)) : [];
  const failed = failures.some((entry) => entry.id === envelope.id);
  if (options.json === true) {
    ctx.out(
      JSON.stringify({
        id: envelope.id,
        name: envelope.name,
        queue: envelope.queue,
        connection: connection.name,
        skipped,
        ...(inline ? { ran: true, failed, deadLetters: failures.map(failureJson), deadLettersKept: false } : {}),
      }),
    );
  } else if (skipped) {
    ctx.out(`skipped ${envelope.name} ${envelope.id}: another job holds its unique key`);
  } else if (inline) {
    const own = failures.find((entry) => entry.id === envelope.id);
    if (own === undefined) ctx.out(`ran ${envelope.name} ${envelope.id} inline on ${connection.name} (${driver.name}): completed`);
    else ctx.err(`error: ${envelope.name} ${envelope.id} failed inline on ${connection.name} (${driver.name}): ${describeFailure(own)}`);
    for (const entry of failures.filter((e) => e.id !== envelope.id)) {
      ctx.err(`error: follow-up ${entry.name ?? '(undecodable)'} ${entry.id} failed inline: ${describeFailure(entry)}`);
    }
    if (failures.length > 0) {
      ctx.err(
        `the ${driver.name} driver keeps dead letters in this process's memory only: ${failures.length === 1 ? 'it is' : 'they are'} gone once this command exits (use a queue backend to keep them)`,
      );
    }
  } else {
    ctx.out(`pushed ${envelope.name} ${envelope.id} to queue ${envelope.queue} on ${connection.name} (${driver.name})`);
  }
  return failures.length > 0 ? EXIT_FAILURE : EXIT_OK;
}

/** Ids of the dead letters a driver holds now. */
async function deadLetterIds(driver: QueueDriver): Promise<Set<string>> {
  return new Set((await driver.deadLetters.list({ limit: 1_000 })).map((entry) => entry.id));
}

/** `failed after 3 attempt(s): Error: boom`. */
function describeFailure(entry: DeadLetterEntry): string {
  return `${entry.reason} after ${entry.attempts} attempt(s): ${entry.error.name}: ${entry.error.message}`;
}

/** A failure for `--json`, its error's `key=value` secrets masked. */
function failureJson(entry: DeadLetterEntry): Record<string, unknown> {
  return { id: entry.id, name: entry.name ?? null, reason: entry.reason, attempts: entry.attempts, error: maskSensitive(entry.error) };
}
