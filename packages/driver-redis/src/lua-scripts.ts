import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { choosePipelining } from './adaptive-pipelining.js';

/** A Lua script read from src/lua (or dist/lua), run by its SHA1 with a fallback to EVAL. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

const fragments = new Map<string, string>();

function read(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}

/** The text of `name` with each `-- @include <fragment>` line replaced by that fragment (itself expanded). */
function expand(text: string): string {
  return text.replace(/^-- @include (\w[\w-]*)$/gm, (_line, fragment: string) => {
    let included = fragments.get(fragment);
    if (included === undefined) {
      included = expand(read(fragment));
      fragments.set(fragment, included);
    }
    return included;
  });
}

function load(name: string): LuaScript {
  const source = expand(read(name));
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Every script of the driver and the rate-limit store, loaded once per process. */
export const scripts = {
  push: load('push'),
  reserve: load('reserve'),
  ack: load('ack'),
  ackAndClaim: load('ack-and-claim'),
  giveBack: load('give-back'),
  release: load('release'),
  extend: load('extend'),
  deadLetter: load('dead-letter'),
  deadRetry: load('dead-retry'),
  deadPurge: load('dead-purge'),
  deadPurgeIds: load('dead-purge-ids'),
  stats: load('stats'),
  purge: load('purge'),
  jobGet: load('job-get'),
  jobList: load('job-list'),
  cancel: load('cancel'),
  progress: load('progress'),
  resume: load('resume'),
  rateLimit: load('rate-limit'),
  postpone: load('postpone'),
  coordination: load('coordination'),
  scheduleLedger: load('schedule-ledger'),
} as const;

/** A reply of a script: integers, strings, and arrays of them. */
export type ScriptReply = number | string | null | ScriptReply[];

/**
 * Runs `script` with EVALSHA and, when the server does not know it yet (a fresh or restarted
 * server, another Cluster node), with EVAL, which also caches it there.
 */
export async function runScript(
  client: Redis | Cluster,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<ScriptReply> {
  choosePipelining(client);
  try {
    return (await client.evalsha(script.sha, keys.length, ...keys, ...args)) as ScriptReply;
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return (await client.eval(script.source, keys.length, ...keys, ...args)) as ScriptReply;
    }
    throw error;
  }
}

/** Sends of an idempotent script at most, when its connection closes before each reply. */
const RESEND_MAX = 3;

/**
 * Runs a script that may run twice with no more effect than once (ack: a job already gone
 * acknowledges as 0), sending it again when its connection closed before the reply came.
 * ioredis rejects a command that was pipelined behind one whose reply did arrive with an
 * AbortError: it may or may not have run, so only a script whose rerun is harmless is resent (on
 * the reconnected connection; the client queues it while reconnecting). `resendArgs`, when given,
 * replace `args` on a resend: a call whose first run may have had an effect that must not happen
 * twice (claiming jobs) is resent without that part.
 */
export async function runIdempotentScript(
  client: Redis | Cluster,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
  resendArgs: readonly (string | number)[] = args,
): Promise<ScriptReply> {
  for (let sent = 1; ; sent += 1) {
    try {
      return await runScript(client, script, keys, sent === 1 ? args : resendArgs);
    } catch (error) {
      if (sent >= RESEND_MAX || !(error instanceof Error && error.name === 'AbortError')) throw error;
    }
  }
}
