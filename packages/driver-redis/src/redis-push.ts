import type { JobEnvelope, PushResult } from '@queuekit/core';
import { runScript, scripts } from './lua-scripts.js';
import type { RedisCallContext } from './redis-context.js';
import type { QueueKeys } from './redis-keys.js';

/** Envelopes per push script call; larger pushes are split into calls sent back to back. */
const PUSH_CHUNK = 1_000;

/** What pushing needs of its driver beyond the shared call context. */
export interface RedisPushContext extends RedisCallContext {
  /** The keys of `queue`, its name checked (InvalidArgumentError) the first time. */
  checkedKeysOf(queue: string): QueueKeys;
  /** The stored body of `envelope`; PayloadTooLargeError above the driver's maxMessageBytes. */
  encode(envelope: JobEnvelope): string;
  /** Adds `queue` to the registry of queue names; undefined when this driver already did. */
  register(queue: string): Promise<void> | undefined;
}

/** Stores envelopes of any queues: one push.lua call per queue and 1,000 envelopes, all pipelined. */
export async function pushMany(ctx: RedisPushContext, envelopes: readonly JobEnvelope[]): Promise<PushResult> {
  if (envelopes.length === 1) return pushOne(ctx, envelopes[0]!);
  const byQueue = new Map<string, { envelope: JobEnvelope; body: string; index: number }[]>();
  for (const [index, envelope] of envelopes.entries()) {
    ctx.checkedKeysOf(envelope.queue);
    const body = ctx.encode(envelope);
    let list = byQueue.get(envelope.queue);
    if (list === undefined) {
      list = [];
      byQueue.set(envelope.queue, list);
    }
    list.push({ envelope, body, index });
  }
  // By position: the same envelope (or id) twice in one push is stored once and skipped once.
  const stored = new Set<number>();
  const calls: Promise<unknown>[] = [];
  for (const [queue, list] of byQueue) {
    const registering = ctx.register(queue);
    if (registering !== undefined) calls.push(registering);
    const keys = ctx.keysOf(queue);
    for (let start = 0; start < list.length; start += PUSH_CHUNK) {
      const chunk = list.slice(start, start + PUSH_CHUNK);
      calls.push(
        pushScript(ctx, keys, chunk).then((reply) => {
          reply.forEach((flag, index) => {
            if (flag === 1) stored.add(chunk[index]!.index);
          });
        }),
      );
    }
  }
  await Promise.all(calls);
  const pushed: string[] = [];
  const skipped: string[] = [];
  for (const [index, envelope] of envelopes.entries()) (stored.has(index) ? pushed : skipped).push(envelope.id);
  return { pushed, skipped };
}

/** One envelope, the producer's usual call: one script call, none of the grouping by queue. */
async function pushOne(ctx: RedisPushContext, envelope: JobEnvelope): Promise<PushResult> {
  const keys = ctx.checkedKeysOf(envelope.queue);
  const call = pushScript(ctx, keys, [{ envelope, body: ctx.encode(envelope) }]);
  const registering = ctx.register(envelope.queue);
  const reply = registering === undefined ? await call : (await Promise.all([call, registering]))[0];
  return reply[0] === 1 ? { pushed: [envelope.id], skipped: [] } : { pushed: [], skipped: [envelope.id] };
}

/** Runs push.lua for envelopes of one queue (at most PUSH_CHUNK); resolves 1 (stored) or 0 (skipped) per envelope. */
function pushScript(
  ctx: RedisCallContext,
  keys: QueueKeys,
  entries: readonly { envelope: JobEnvelope; body: string }[],
): Promise<number[]> {
  const args: (string | number)[] = [keys.jobPrefix, entries.length];
  for (const { envelope, body } of entries) {
    args.push(envelope.id, envelope.priority, Math.floor(envelope.availableAt), envelope.uniqueKey ?? '', envelope.group ?? '', body);
  }
  return runScript(ctx.client, scripts.push, [keys.ready, keys.delayed, keys.seq, keys.marker, keys.unique, keys.prios], args) as Promise<
    number[]
  >;
}
