import { type DeadLetterEntry, DeadLetterQueue, MAX_DEAD_LETTER_IDS, maskSensitive, quoteInput } from '@queuekit/core';
import { CliError, EXIT_FAILURE, EXIT_OK } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { formatTime, renderTable } from '../output/table.js';

/** Flags common to the `queue dlq` subcommands. */
export interface DlqCommonOptions {
  readonly connection?: string;
}

async function openQueue(ctx: CliContext, options: DlqCommonOptions): Promise<DeadLetterQueue> {
  const connection = await ctx.connection(options.connection);
  return new DeadLetterQueue(await ctx.open(connection));
}

/** Flags of the commands that print dead letters. */
export interface DlqShowOptions {
  readonly json?: boolean;
  /** Print payloads and messages as stored, without masking sensitive values. */
  readonly reveal?: boolean;
}

/**
 * The entry as printed: sensitive keys of the payload (and `key=value` secrets in the error and a
 * raw body) masked as the logger masks them, unless `reveal`.
 */
function printable(entry: DeadLetterEntry, reveal: boolean | undefined): DeadLetterEntry {
  return reveal === true ? entry : (maskSensitive(entry) as DeadLetterEntry);
}

/** An entry as JSON: every field of the store, times also as ISO strings. */
function entryJson(entry: DeadLetterEntry): Record<string, unknown> {
  return {
    id: entry.id,
    queue: entry.queue,
    name: entry.name ?? null,
    reason: entry.reason,
    attempts: entry.attempts,
    firstFailedAt: entry.firstFailedAt,
    failedAt: entry.failedAt,
    error: entry.error,
    payload: entry.envelope?.payload ?? null,
    envelope: entry.envelope ?? null,
    raw: entry.raw ?? null,
  };
}

/** `queue dlq list`. */
export async function runDlqList(
  ctx: CliContext,
  options: DlqCommonOptions & DlqShowOptions & { queue?: string; limit?: number; offset?: number },
): Promise<number> {
  const dlq = await openQueue(ctx, options);
  const filter = options.queue === undefined ? {} : { queue: options.queue };
  const stored = await dlq.list({
    ...filter,
    limit: options.limit ?? 50,
    ...(options.offset === undefined ? {} : { offset: options.offset }),
  });
  const entries = stored.map((entry) => printable(entry, options.reveal));
  const total = await dlq.count(filter);
  if (options.json === true) {
    ctx.out(JSON.stringify({ total, entries: entries.map(entryJson) }, null, 2));
    return EXIT_OK;
  }
  if (entries.length === 0) {
    ctx.out(`no dead letters${options.queue === undefined ? '' : ` on queue ${options.queue}`}`);
    return EXIT_OK;
  }
  ctx.out(
    renderTable(
      [
        { header: 'ID' },
        { header: 'QUEUE' },
        { header: 'NAME' },
        { header: 'REASON' },
        { header: 'ATTEMPTS', align: 'right' },
        { header: 'FAILED AT' },
        { header: 'ERROR', maxWidth: 60 },
      ],
      entries.map((e) => [
        e.id,
        e.queue,
        e.name ?? '(undecodable)',
        e.reason,
        String(e.attempts),
        formatTime(e.failedAt),
        `${e.error.name}: ${e.error.message}`,
      ]),
    ),
  );
  if (total > entries.length) ctx.out(`(${entries.length} of ${total}; use --limit and --offset for more)`);
  return EXIT_OK;
}

/** `queue dlq show ID`. */
export async function runDlqShow(ctx: CliContext, id: string, options: DlqCommonOptions & DlqShowOptions): Promise<number> {
  const dlq = await openQueue(ctx, options);
  const stored = await dlq.get(id);
  if (stored === undefined) throw new CliError(`no dead letter with id ${quoteInput(id)}`);
  const entry = printable(stored, options.reveal);
  if (options.json === true) {
    ctx.out(JSON.stringify(entryJson(entry), null, 2));
    return EXIT_OK;
  }
  const rows: [string, string][] = [
    ['id', entry.id],
    ['queue', entry.queue],
    ['name', entry.name ?? '(undecodable)'],
    ['reason', entry.reason],
    ['attempts', String(entry.attempts)],
    ['first failed', formatTime(entry.firstFailedAt)],
    ['failed at', formatTime(entry.failedAt)],
    ['error', `${entry.error.name}: ${entry.error.message}`],
  ];
  if (entry.envelope !== undefined) {
    rows.push(['created at', formatTime(entry.envelope.createdAt)], ['max attempts', String(entry.envelope.maxAttempts)]);
  }
  const width = Math.max(...rows.map(([key]) => key.length));
  for (const [key, value] of rows) ctx.out(`${key.padEnd(width)}  ${value}`);
  ctx.out('');
  if (entry.envelope !== undefined) ctx.out(`payload:\n${JSON.stringify(entry.envelope.payload ?? null, null, 2)}`);
  else if (entry.raw !== undefined) ctx.out(`raw body:\n${entry.raw}`);
  if (entry.error.stack !== undefined) ctx.out(`\nstack:\n${entry.error.stack}`);
  return EXIT_OK;
}

/** `queue dlq retry (ID | --all)`. */
export async function runDlqRetry(
  ctx: CliContext,
  id: string | undefined,
  options: DlqCommonOptions & { all?: boolean; queue?: string; json?: boolean },
): Promise<number> {
  if (id !== undefined && options.all === true) throw new CliError('dlq retry: give either an ID or --all, not both');
  if (id === undefined && options.all !== true)
    throw new CliError('dlq retry: give the ID of a dead letter, or --all (optionally with --queue)');
  if (id !== undefined && options.queue !== undefined)
    throw new CliError('dlq retry: --queue filters --all; it cannot be combined with an ID');
  const dlq = await openQueue(ctx, options);
  if (id !== undefined) {
    const retried = await dlq.retry(id);
    if (options.json === true) ctx.out(JSON.stringify({ retried: retried ? 1 : 0, ids: retried ? [id] : [] }));
    else if (retried) ctx.out(`retried ${id}`);
    if (!retried) {
      if (options.json !== true) ctx.err(`no dead letter with id ${quoteInput(id)}`);
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  }
  const count = await dlq.retryAll(options.queue === undefined ? {} : { queue: options.queue });
  if (options.json === true) ctx.out(JSON.stringify({ retried: count }));
  else ctx.out(`retried ${count} dead letter(s)${options.queue === undefined ? '' : ` of queue ${options.queue}`}`);
  return EXIT_OK;
}

/** `queue dlq purge`. */
export async function runDlqPurge(
  ctx: CliContext,
  options: DlqCommonOptions & { ids?: string[]; queue?: string; olderThan?: number; yes?: boolean; json?: boolean },
): Promise<number> {
  if (options.ids !== undefined) return purgeIds(ctx, options.ids, options);
  const dlq = await openQueue(ctx, options);
  const query = {
    ...(options.queue === undefined ? {} : { queue: options.queue }),
    ...(options.olderThan === undefined ? {} : { olderThanMs: options.olderThan * 1_000 }),
  };
  const scope = `${options.queue === undefined ? 'every queue' : `queue ${options.queue}`}${options.olderThan === undefined ? '' : ` older than ${options.olderThan}s`}`;
  if (options.yes !== true) {
    const matching = await dlq.count(query);
    if (matching === 0) {
      ctx.out(`no dead letters on ${scope}`);
      return EXIT_OK;
    }
    if (!ctx.io.interactive) throw new CliError(`dlq purge: would delete ${matching} dead letter(s) on ${scope}; pass --yes to confirm`);
    if (!(await ctx.io.confirm(`Delete ${matching} dead letter(s) on ${scope}? [y/N] `))) {
      ctx.out('nothing deleted');
      return EXIT_FAILURE;
    }
  }
  const purged = await dlq.purge(query);
  if (options.json === true) ctx.out(JSON.stringify({ purged }));
  else ctx.out(`purged ${purged} dead letter(s) on ${scope}`);
  return EXIT_OK;
}

/** `queue dlq purge --ids A,B`: deletes the dead letters with these ids, after saying how many of them exist. */
async function purgeIds(
  ctx: CliContext,
  ids: readonly string[],
  options: DlqCommonOptions & { queue?: string; olderThan?: number; yes?: boolean; json?: boolean },
): Promise<number> {
  if (options.queue !== undefined || options.olderThan !== undefined)
    throw new CliError('dlq purge: --ids names the entries; it cannot be combined with --queue or --older-than');
  if (ids.length === 0) throw new CliError('dlq purge: --ids needs at least one job id');
  if (ids.length > MAX_DEAD_LETTER_IDS) throw new CliError(`dlq purge: --ids takes at most ${MAX_DEAD_LETTER_IDS} ids, got ${ids.length}`);
  const dlq = await openQueue(ctx, options);
  if (options.yes !== true) {
    const found = (await Promise.all([...new Set(ids)].map((id) => dlq.get(id)))).filter((entry) => entry !== undefined).length;
    if (found === 0) {
      ctx.out(`no dead letter has any of the ${ids.length} id(s)`);
      return EXIT_OK;
    }
    if (!ctx.io.interactive) throw new CliError(`dlq purge: would delete ${found} dead letter(s) by id; pass --yes to confirm`);
    if (!(await ctx.io.confirm(`Delete ${found} dead letter(s) by id? [y/N] `))) {
      ctx.out('nothing deleted');
      return EXIT_FAILURE;
    }
  }
  const purged = await dlq.purgeIds(ids);
  if (options.json === true) ctx.out(JSON.stringify({ purged }));
  else ctx.out(`purged ${purged} dead letter(s) by id`);
  return EXIT_OK;
}
