/** Names of every key one queue uses; all share the hash tag `{<queue>}`, so they live in one Cluster slot. */
export interface QueueKeys {
  /** Zset of ready job ids, scored priority * 2^32 + sequence. */
  readonly ready: string;
  /** Zset of delayed job ids, scored by due time (epoch ms). */
  readonly delayed: string;
  /** Zset of leased job ids, scored by lease expiry (epoch ms). */
  readonly leased: string;
  /** The queue's sequence counter (FIFO order within a priority). */
  readonly seq: string;
  /** Zset a blocked reserver pops (BZPOPMIN) to learn that work may be waiting. */
  readonly marker: string;
  /** Hash uniqueKey -> id of the job holding it. */
  readonly unique: string;
  /** Zset of priorities that had ready jobs, for the oldest-ready statistic. */
  readonly prios: string;
  /** Zset of dead-lettered job ids, scored failedAt * 1024 + (sequence mod 1024). */
  readonly dead: string;
  /** Hash id -> failure record (JSON) of each dead letter. */
  readonly deadInfo: string;
  /** Hash id -> stored body of each dead letter. */
  readonly deadBody: string;
  /** List of the completed job ids kept, in the order they finished, oldest first (see src/lua/finished.lua). */
  readonly completedIds: string;
  /** Hash id -> finished-job record (JSON, made by core) of each completed job kept. */
  readonly completedInfo: string;
  /** List of the cancelled job ids kept, like `completedIds`. */
  readonly cancelledIds: string;
  /** Hash id -> finished-job record of each cancelled job kept. */
  readonly cancelledInfo: string;
  /**
   * Zsets in which an earlier version of this driver indexed the completed and cancelled records;
   * the scripts that store or list records move them into the lists when they find them.
   */
  readonly completedOldIndex: string;
  readonly cancelledOldIndex: string;
  /** String, present while the queue is paused: claims take nothing from it. */
  readonly paused: string;
  /**
   * Prefix of the per-job hashes: the job key is this plus the id. The scripts derive the job
   * groups' keys from it (`<prefix>:{<queue>}:` plus `grouped`, `gu`, `g:<group>`, `gl:<group>`,
   * `gring`, `gstamp`; see src/lua/groups.lua), all under the queue's hash tag.
   */
  readonly jobPrefix: string;
}

/** Key prefixes: 1–64 characters of letters, digits, `.`, `_`, `-` and `:`, not ending with `:`. */
export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9._:-]{0,63}[A-Za-z0-9._-]$/;

/** The keys of `queue` under `prefix` (both already validated). */
export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `${prefix}:{${queue}}:`;
  return {
    ready: `${base}ready`,
    delayed: `${base}delayed`,
    leased: `${base}leased`,
    seq: `${base}seq`,
    marker: `${base}marker`,
    unique: `${base}unique`,
    prios: `${base}prios`,
    dead: `${base}dead`,
    deadInfo: `${base}dead:info`,
    deadBody: `${base}dead:body`,
    completedIds: `${base}completed:ids`,
    completedInfo: `${base}completed:info`,
    cancelledIds: `${base}cancelled:ids`,
    cancelledInfo: `${base}cancelled:info`,
    completedOldIndex: `${base}completed`,
    cancelledOldIndex: `${base}cancelled`,
    paused: `${base}paused`,
    jobPrefix: `${base}j:`,
  };
}

/** The set of queue names that have been used under `prefix` (read by the dead-letter store). */
export function registryKey(prefix: string): string {
  return `${prefix}:queues`;
}

/** The hash of one rate-limit bucket; the bucket key is its own hash tag. */
export function rateLimitKey(prefix: string, bucket: string): string {
  return `${prefix}:rl:{${bucket}}`;
}

/** A coordination-store key (counter or lease); the key is its own hash tag. */
export function coordinationKey(prefix: string, key: string): string {
  return `${prefix}:co:{${key}}`;
}

/** The schedule-ledger hash of one schedule; the schedule name is its own hash tag. */
export function scheduleLedgerKey(prefix: string, schedule: string): string {
  return `${prefix}:sched:{${schedule}}`;
}
