import { MemoryCoordinationStore } from '../coordination/memory-coordination-store.js';
import type { DeadLetterEntry, DeadLetterFilter } from '../driver/queue-driver.js';
import type { Retention } from '../driver/retention.js';
import type { FinishedJob } from '../envelope/finished-job.js';
import { MemoryRateLimitStore } from '../rate-limit/memory-rate-limit-store.js';

/** One job as a {@link MemoryStore} keeps it: the encoded body plus the queue bookkeeping. */
export interface StoredJob {
  readonly id: string;
  readonly queue: string;
  /** The encoded envelope (or the undecodable raw body of a poison message). */
  body: string;
  /** Lower is delivered first. */
  priority: number;
  /** Epoch ms (store clock) before which the job is not delivered. */
  availableAt: number;
  /** Position within its priority: lower was queued earlier. */
  seq: number;
  /** Runs that failed (settled with release()). */
  attempts: number;
  /** Claims whose lease ran out with no settle, counted by the claim that took the job over. */
  lostDeliveries: number;
  /** Fencing token of the current lease; undefined when nobody holds the job. */
  token: string | undefined;
  /** Epoch ms (store clock) when the current lease runs out; meaningless without a token. */
  leaseExpiresAt: number;
  /** The unique key this job holds, if any. */
  readonly uniqueKey: string | undefined;
  /** The job's group (JobEnvelope.group); absent when it has none. */
  readonly group?: string | undefined;
  /** Who holds the current lease (ReserveOptions.holder); meaningless without a token. */
  holder?: string | undefined;
  /** When the current lease was taken (store clock); meaningless without a token. */
  claimedAt?: number;
  /** The last progress stored (JSON text). */
  progress?: string | undefined;
}

/** The whole state of a {@link MemoryStore} as plain JSON-safe data. */
export interface MemoryStoreSnapshot {
  readonly sequence: number;
  readonly jobs: readonly StoredJob[];
  readonly deadLetters: readonly { readonly entry: DeadLetterEntry; readonly seq: number }[];
  /** Finished (completed or cancelled) jobs kept, oldest first. */
  readonly finished?: readonly FinishedJob[];
  /** Paused queues. */
  readonly paused?: readonly string[];
  /** When each lane of a queue was last served by a grouped claim: [queue, lane ('' = ungrouped), sequence]. */
  readonly served?: readonly (readonly [string, string, number])[];
}

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock for due times and lease expiry, in epoch ms; defaults to `Date.now`. */
  readonly now?: () => number;
}

/**
 * The state behind one or more memory drivers: queues, leases, unique keys and dead letters of one
 * process. Drivers created over the same store see the same jobs, like two connections to one
 * backend; nothing here survives the process.
 */
export class MemoryStore {
  /** The store clock, epoch ms. */
  readonly now: () => number;
  /** Counters and leased keys of every driver over this store (their coordination store). */
  readonly coordination: MemoryCoordinationStore;
  /** Token buckets of every driver over this store (their rate-limit store). */
  readonly rateLimits: MemoryRateLimitStore;
  private readonly queues = new Map<string, Map<string, StoredJob>>();
  private readonly uniqueKeyHolders = new Map<string, string>();
  private readonly deadLetterEntries = new Map<string, { entry: DeadLetterEntry; seq: number }>();
  private readonly listeners = new Set<() => void>();
  /** Finished jobs per queue, by id, in the order they finished. */
  private readonly finishedJobs = new Map<string, Map<string, FinishedJob>>();
  private readonly pausedQueues = new Set<string>();
  private sequence = 0;
  /** Per queue, per lane (a group, or '' for the ungrouped jobs), when it was last served by a grouped claim. */
  private readonly served = new Map<string, Map<string, number>>();

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.coordination = new MemoryCoordinationStore({ now: this.now });
    this.rateLimits = new MemoryRateLimitStore({ now: this.now });
  }

  /**
   * Rebuilds a store from {@link MemoryStore.snapshot} output, e.g. to hand state to another
   * process through a file in a test fixture. Waiting reservers are not part of the state.
   */
  static fromSnapshot(snapshot: MemoryStoreSnapshot, options: MemoryStoreOptions = {}): MemoryStore {
    const store = new MemoryStore(options);
    store.sequence = snapshot.sequence;
    // Keys whose value is undefined vanish in JSON; put them back so entries keep their shape.
    for (const job of snapshot.jobs) store.insert({ ...job, token: job.token ?? undefined, uniqueKey: job.uniqueKey ?? undefined });
    for (const { entry, seq } of snapshot.deadLetters) {
      store.deadLetterEntries.set(entry.id, {
        entry: { ...entry, name: entry.name ?? undefined, envelope: entry.envelope ?? undefined },
        seq,
      });
    }
    for (const record of snapshot.finished ?? []) store.finishedOf(record.queue, true).set(record.id, record);
    for (const queue of snapshot.paused ?? []) store.pausedQueues.add(queue);
    for (const [queue, lane, at] of snapshot.served ?? []) store.servedLanes(queue).set(lane, at);
    return store;
  }

  /** The whole state as plain data (jobs, dead letters, sequence), for {@link MemoryStore.fromSnapshot}. */
  snapshot(): MemoryStoreSnapshot {
    return {
      sequence: this.sequence,
      jobs: [...this.queues.values()].flatMap((jobs) => [...jobs.values()].map((job) => ({ ...job }))),
      deadLetters: [...this.deadLetterEntries.values()].map(({ entry, seq }) => ({ entry, seq })),
      finished: [...this.finishedJobs.values()].flatMap((jobs) => [...jobs.values()]),
      paused: [...this.pausedQueues],
      served: [...this.served].flatMap(([queue, lanes]) => [...lanes].map(([lane, at]) => [queue, lane, at] as const)),
    };
  }

  /** A fresh, ever increasing sequence number (FIFO position). */
  nextSeq(): number {
    this.sequence += 1;
    return this.sequence;
  }

  /** The job `id` of `queue`; `undefined` when there is none. */
  find(queue: string, id: string): StoredJob | undefined {
    return this.queues.get(queue)?.get(id);
  }

  /** The job `id` in any queue; `undefined` when there is none. */
  findAnywhere(id: string): StoredJob | undefined {
    for (const jobs of this.queues.values()) {
      const job = jobs.get(id);
      if (job !== undefined) return job;
    }
    return undefined;
  }

  /** True when a job with this id is stored in any queue. */
  has(id: string): boolean {
    for (const jobs of this.queues.values()) if (jobs.has(id)) return true;
    return false;
  }

  /** True when a queued, delayed or reserved job of `queue` holds `key` (keys are scoped per queue). */
  isUniqueKeyHeld(queue: string, key: string): boolean {
    return this.uniqueKeyHolders.has(uniqueSlot(queue, key));
  }

  /** Stores a job and wakes waiting reservers. */
  insert(job: StoredJob): void {
    let jobs = this.queues.get(job.queue);
    if (jobs === undefined) {
      jobs = new Map();
      this.queues.set(job.queue, jobs);
    }
    jobs.set(job.id, job);
    if (job.uniqueKey !== undefined) {
      const slot = uniqueSlot(job.queue, job.uniqueKey);
      if (!this.uniqueKeyHolders.has(slot)) this.uniqueKeyHolders.set(slot, job.id);
    }
    this.notify();
  }

  /** Deletes a job and frees its unique key (and, for a leased grouped job, its group's place: waiting reservers wake). */
  remove(job: StoredJob): void {
    const jobs = this.queues.get(job.queue);
    jobs?.delete(job.id);
    if (job.group !== undefined && job.token !== undefined) this.notify();
    if (jobs?.size === 0) this.queues.delete(job.queue);
    if (job.uniqueKey !== undefined && this.uniqueKeyHolders.get(uniqueSlot(job.queue, job.uniqueKey)) === job.id) {
      this.uniqueKeyHolders.delete(uniqueSlot(job.queue, job.uniqueKey));
    }
  }

  /** Jobs of one queue (in no particular order). */
  jobsOf(queue: string): Iterable<StoredJob> {
    return this.queues.get(queue)?.values() ?? [];
  }

  /**
   * Claims the next deliverable job of the first queue that has one: not held (or its lease ran
   * out), due, lowest priority number, then lowest sequence. Leases it, counting a lost delivery
   * when it takes over a lease that ran out.
   */
  claim(queues: readonly string[], leaseMs: number, token: string, groupConcurrency?: number): StoredJob | undefined {
    const now = this.now();
    for (const queue of queues) {
      if (this.pausedQueues.has(queue)) continue;
      let best: StoredJob | undefined;
      if (groupConcurrency === undefined) {
        for (const job of this.jobsOf(queue)) {
          if (!isDeliverable(job, now)) continue;
          if (best === undefined || isBefore(job, best)) best = job;
        }
      } else {
        best = this.nextGrouped(queue, now, groupConcurrency);
      }
      if (best !== undefined) {
        if (best.token !== undefined) best.lostDeliveries += 1;
        best.token = token;
        best.leaseExpiresAt = now + leaseMs;
        return best;
      }
    }
    return undefined;
  }

  /**
   * The next job of `queue` for a grouped claim: from the lane (a group, or the ungrouped jobs)
   * served least recently among those with a deliverable job and, for a group, fewer than
   * `groupConcurrency` unexpired leases; priority then FIFO within the lane. Marks the lane served.
   */
  private nextGrouped(queue: string, now: number, groupConcurrency: number): StoredJob | undefined {
    const lanes = new Map<string, { best: StoredJob | undefined; active: number }>();
    for (const job of this.jobsOf(queue)) {
      const key = job.group ?? '';
      let lane = lanes.get(key);
      if (lane === undefined) {
        lane = { best: undefined, active: 0 };
        lanes.set(key, lane);
      }
      if (job.token !== undefined && job.leaseExpiresAt > now) lane.active += 1;
      else if (isDeliverable(job, now) && (lane.best === undefined || isBefore(job, lane.best))) lane.best = job;
    }
    const served = this.servedLanes(queue);
    let pick: { key: string; best: StoredJob; at: number } | undefined;
    for (const [key, lane] of lanes) {
      if (lane.best === undefined || (key !== '' && lane.active >= groupConcurrency)) continue;
      const at = served.get(key) ?? 0;
      if (pick === undefined || at < pick.at || (at === pick.at && lane.best.seq < pick.best.seq)) pick = { key, best: lane.best, at };
    }
    if (pick === undefined) return undefined;
    served.set(pick.key, this.nextSeq());
    return pick.best;
  }

  /** When each lane of `queue` was last served (the store's sequence), by lane. */
  private servedLanes(queue: string): Map<string, number> {
    let served = this.served.get(queue);
    if (served === undefined) {
      served = new Map();
      this.served.set(queue, served);
    }
    return served;
  }

  /** Earliest store-clock time at which a job of `queues` becomes due or a lease runs out. */
  nextChangeAt(queues: readonly string[]): number | undefined {
    let next: number | undefined;
    for (const queue of queues) {
      // A paused queue changes nothing until resume(), which notifies.
      if (this.pausedQueues.has(queue)) continue;
      for (const job of this.jobsOf(queue)) {
        const at = job.token === undefined ? job.availableAt : Math.max(job.availableAt, job.leaseExpiresAt);
        if (next === undefined || at < next) next = at;
      }
    }
    return next;
  }

  /**
   * Keeps a finished job, then prunes its queue's finished jobs past `retention` (older than its
   * age, beyond its count), as a backend does when it stores one.
   */
  putFinished(record: FinishedJob, retention: Retention): void {
    const jobs = this.finishedOf(record.queue, true);
    jobs.delete(record.id);
    jobs.set(record.id, record);
    const oldestKept = this.now() - retention.ageMs;
    for (const [id, kept] of jobs) {
      if (jobs.size <= retention.count && kept.finishedAt >= oldestKept) break;
      jobs.delete(id);
    }
  }

  /** A finished job by id (in `queue`, or any queue); undefined when none is kept. */
  getFinished(id: string, queue?: string): FinishedJob | undefined {
    if (queue !== undefined) return this.finishedJobs.get(queue)?.get(id);
    for (const jobs of this.finishedJobs.values()) {
      const record = jobs.get(id);
      if (record !== undefined) return record;
    }
    return undefined;
  }

  /** Finished jobs of a queue, oldest first. */
  finishedIn(queue: string): Iterable<FinishedJob> {
    return this.finishedJobs.get(queue)?.values() ?? [];
  }

  private finishedOf(queue: string, create: boolean): Map<string, FinishedJob> {
    let jobs = this.finishedJobs.get(queue);
    if (jobs === undefined) {
      jobs = new Map();
      if (create) this.finishedJobs.set(queue, jobs);
    }
    return jobs;
  }

  /** True when claims skip `queue`. */
  isPaused(queue: string): boolean {
    return this.pausedQueues.has(queue);
  }

  /** Pauses or resumes claims from `queue`; resuming wakes waiting reservers. */
  setPaused(queue: string, paused: boolean): void {
    if (paused) this.pausedQueues.add(queue);
    else if (this.pausedQueues.delete(queue)) this.notify();
  }

  /** Stores (or replaces) a dead-letter entry. */
  putDeadLetter(entry: DeadLetterEntry): void {
    this.deadLetterEntries.delete(entry.id);
    this.deadLetterEntries.set(entry.id, { entry, seq: this.nextSeq() });
  }

  /** One dead-letter entry by job id; `undefined` when there is none. */
  getDeadLetter(id: string): DeadLetterEntry | undefined {
    return this.deadLetterEntries.get(id)?.entry;
  }

  /** Deletes a dead-letter entry; true when there was one. */
  deleteDeadLetter(id: string): boolean {
    return this.deadLetterEntries.delete(id);
  }

  /** Entries matching `filter`, most recently failed first. */
  deadLetters(filter: DeadLetterFilter = {}): DeadLetterEntry[] {
    return [...this.deadLetterEntries.values()]
      .filter(({ entry }) => matches(entry, filter))
      .sort((a, b) => b.entry.failedAt - a.entry.failedAt || b.seq - a.seq)
      .map(({ entry }) => entry);
  }

  /** Calls `listener` (in a microtask) whenever jobs may have become deliverable; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wakes every subscriber; called after anything that can make a job deliverable. */
  notify(): void {
    for (const listener of [...this.listeners]) queueMicrotask(listener);
  }
}

/** True when `a` is delivered before `b`: lower priority number, then queued earlier. */
function isBefore(a: StoredJob, b: StoredJob): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
}

/** True when `job` can be claimed at `now`: due, and free or its lease ran out. */
export function isDeliverable(job: StoredJob, now: number): boolean {
  return job.availableAt <= now && (job.token === undefined || job.leaseExpiresAt <= now);
}

function matches(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  if (filter.queue !== undefined && entry.queue !== filter.queue) return false;
  if (filter.failedBefore !== undefined && !(entry.failedAt < filter.failedBefore)) return false;
  return true;
}

/** The holder-map key of a unique key within its queue (queue names cannot contain a newline). */
function uniqueSlot(queue: string, key: string): string {
  return `${queue}\n${key}`;
}
