import type { Worker } from '@queuekit/core';

/** Options of {@link JobRateRecorder}. */
export interface JobRateRecorderOptions {
  /** How far back rates reach, in ms; default one hour. */
  readonly windowMs?: number;
  /** Width of one bucket, in ms; default one minute. */
  readonly bucketMs?: number;
  /** Wait and run times kept per bucket and queue for the percentiles; default 500 (a uniform sample beyond). */
  readonly samplesPerBucket?: number;
  /** Clock, epoch ms; default Date.now. */
  readonly now?: () => number;
}

/**
 * Throughput and wait time of one queue over a window: as measured by the workers a
 * {@link JobRateRecorder} observes, or read from the completed-job records a backend keeps.
 */
export interface QueueRates {
  /** Where the numbers come from: workers observed in this process, or the backend's retained records. */
  readonly source: 'observed' | 'retained';
  /** Length of the window, in ms. */
  readonly windowMs: number;
  /** Width of one bucket of `completedPerBucket`, in ms. */
  readonly bucketMs: number;
  /** Epoch ms from which the numbers count: the window's start, or when recording began (or the oldest retained record) if later. */
  readonly since: number;
  /** Jobs completed in the window. */
  readonly completed: number;
  /** Runs that failed in the window, retried or dead-lettered (observed); dead letters of the window still stored (retained). */
  readonly failed: number;
  /** Completed jobs per bucket, oldest first (`windowMs / bucketMs` entries). */
  readonly completedPerBucket: readonly number[];
  /** Median time from a job's availability to its reservation, in ms; null with no sample. */
  readonly waitP50Ms: number | null;
  /** 95th percentile of the wait, in ms; null with no sample. */
  readonly waitP95Ms: number | null;
  /** Median handler run time, in ms; null with no sample. */
  readonly runP50Ms: number | null;
  /** 95th percentile of the run time, in ms; null with no sample. */
  readonly runP95Ms: number | null;
}

interface Bucket {
  readonly startAt: number;
  completed: number;
  failed: number;
  waitSeen: number;
  runSeen: number;
  readonly waits: number[];
  readonly runs: number[];
}

/**
 * Per-minute aggregates of jobs run by the workers it observes (throughput, failures, wait and run
 * time with p50 and p95), kept in memory for the last hour. It measures only the workers of this
 * process that it is given; the dashboard uses it for connections whose driver keeps no
 * completed-job records (no `capabilities.retention`), and shows no rates rather than guessed ones
 * where neither source exists.
 */
export class JobRateRecorder {
  readonly #windowMs: number;
  readonly #bucketMs: number;
  readonly #samples: number;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #buckets = new Map<string, Bucket[]>();

  constructor(options: JobRateRecorderOptions = {}) {
    this.#windowMs = options.windowMs ?? 3_600_000;
    this.#bucketMs = options.bucketMs ?? 60_000;
    this.#samples = options.samplesPerBucket ?? 500;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  /** Records the jobs `worker` runs on connection `connection`; returns a function that stops recording. */
  observe(worker: Worker, connection: string): () => void {
    const reserved = (e: { queue: string; waitMs: number }) => this.recordWait(connection, e.queue, e.waitMs);
    const completed = (e: { queue: string; durationMs: number }) => this.recordRun(connection, e.queue, 'completed', e.durationMs);
    const failed = (e: { queue: string; durationMs: number }) => this.recordRun(connection, e.queue, 'failed', e.durationMs);
    worker.on('reserved', reserved).on('completed', completed).on('failed', failed);
    return () => {
      worker.off('reserved', reserved).off('completed', completed).off('failed', failed);
    };
  }

  /** Records one reservation's wait (availability to reservation), in ms. */
  recordWait(connection: string, queue: string, waitMs: number): void {
    const bucket = this.#bucket(connection, queue);
    bucket.waitSeen += 1;
    this.#sample(bucket.waits, bucket.waitSeen, Math.max(0, waitMs));
  }

  /** Records one finished run: its outcome and how long the handler ran, in ms. */
  recordRun(connection: string, queue: string, outcome: 'completed' | 'failed', durationMs: number): void {
    const bucket = this.#bucket(connection, queue);
    if (outcome === 'completed') bucket.completed += 1;
    else bucket.failed += 1;
    bucket.runSeen += 1;
    this.#sample(bucket.runs, bucket.runSeen, Math.max(0, durationMs));
  }

  /** True when at least one worker's jobs were ever recorded on `connection`. */
  hasConnection(connection: string): boolean {
    const prefix = `${connection}\u0000`;
    for (const key of this.#buckets.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** Rates of one queue over the window; zeros (and null percentiles) when nothing ran. */
  rates(connection: string, queue: string): QueueRates {
    const now = this.#now();
    const count = Math.ceil(this.#windowMs / this.#bucketMs);
    const firstStart = this.#floor(now) - (count - 1) * this.#bucketMs;
    const buckets = this.#live(this.#key(connection, queue), now);
    const perBucket = new Array<number>(count).fill(0);
    let completed = 0;
    let failed = 0;
    const waits: number[] = [];
    const runs: number[] = [];
    for (const b of buckets) {
      const index = Math.floor((b.startAt - firstStart) / this.#bucketMs);
      if (index < 0 || index >= count) continue;
      perBucket[index] = b.completed;
      completed += b.completed;
      failed += b.failed;
      waits.push(...b.waits);
      runs.push(...b.runs);
    }
    waits.sort((a, b) => a - b);
    runs.sort((a, b) => a - b);
    return {
      source: 'observed',
      windowMs: this.#windowMs,
      bucketMs: this.#bucketMs,
      since: Math.max(firstStart, this.#startedAt),
      completed,
      failed,
      completedPerBucket: perBucket,
      waitP50Ms: percentile(waits, 0.5),
      waitP95Ms: percentile(waits, 0.95),
      runP50Ms: percentile(runs, 0.5),
      runP95Ms: percentile(runs, 0.95),
    };
  }

  #key(connection: string, queue: string): string {
    return `${connection}\u0000${queue}`;
  }

  #floor(at: number): number {
    return at - (at % this.#bucketMs);
  }

  #live(key: string, now: number): Bucket[] {
    const buckets = this.#buckets.get(key) ?? [];
    const oldest = this.#floor(now) - this.#windowMs;
    while (buckets.length > 0 && (buckets[0] as Bucket).startAt <= oldest) buckets.shift();
    return buckets;
  }

  #bucket(connection: string, queue: string): Bucket {
    const key = this.#key(connection, queue);
    const now = this.#now();
    const buckets = this.#live(key, now);
    if (!this.#buckets.has(key)) this.#buckets.set(key, buckets);
    const startAt = this.#floor(now);
    const last = buckets[buckets.length - 1];
    if (last !== undefined && last.startAt === startAt) return last;
    const bucket: Bucket = { startAt, completed: 0, failed: 0, waitSeen: 0, runSeen: 0, waits: [], runs: [] };
    buckets.push(bucket);
    return bucket;
  }

  /** Reservoir sampling: every value seen has the same chance of being kept. */
  #sample(into: number[], seen: number, value: number): void {
    if (into.length < this.#samples) {
      into.push(value);
      return;
    }
    const slot = Math.floor(Math.random() * seen);
    if (slot < this.#samples) into[slot] = value;
  }
}

/** The `q` quantile (0..1) of sorted values by nearest rank; null when empty. */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}
