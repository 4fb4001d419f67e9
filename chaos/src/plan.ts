import type { Job } from '@queuekit/core';
import { chaosFollowUp, chaosWork } from '../worker/jobs.mjs';

/** A seeded pseudo-random source (mulberry32): the same seed gives the same run plan and actions. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** What one pushed job is meant to do, as the ledger's counts expect it. */
export interface PlannedJob {
  readonly id: string;
  readonly ms: number;
  readonly fail: 'never' | 'once' | 'always';
  readonly extend: boolean;
  readonly ignoreSignal: boolean;
  /** A `then` follow-up: runs once when the job completes. */
  readonly then: boolean;
  /** A `catch` follow-up: runs once when the job is dead-lettered after failing, never otherwise. */
  readonly catch: boolean;
}

/** The jobs of a run, and the poison bodies written straight into the backend. */
export interface RunPlan {
  readonly jobs: readonly PlannedJob[];
  readonly poison: readonly string[];
}

/** Retry delay of jobs planned to fail, in ms. */
const RETRY_DELAY_MS = 100;

/**
 * Draws `count` jobs: most of a few ms, some up to a second, a few of one to three leases (half
 * of those calling extendLease), some failing once or on every attempt, some with then/catch
 * follow-ups; plus about 1% poison bodies.
 */
export function planRun(random: Random, count: number, leaseMs: number, runTag: string, queue: string): { plan: RunPlan; jobs: Job[] } {
  const planned: PlannedJob[] = [];
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    let ms: number;
    let fail: PlannedJob['fail'] = 'never';
    let extend = false;
    if (roll < 0.05) {
      ms = random.int(leaseMs, 3 * leaseMs);
      extend = random.chance(0.5);
    } else if (roll < 0.2) ms = random.int(100, 1_000);
    else ms = random.int(2, 50);
    const failRoll = random.next();
    if (failRoll < 0.04) fail = 'once';
    else if (failRoll < 0.06) fail = 'always';
    const then = fail !== 'always' && random.chance(0.1);
    const catchFollowUp = fail === 'always' || random.chance(0.03);
    const payload = { ms, extend, ignoreSignal: random.chance(0.5), fail };
    const job = chaosWork
      .create(payload)
      .onQueue(queue)
      .withId(`${runTag}-${String(i).padStart(6, '0')}`)
      .attempts(fail === 'never' ? 1 : fail === 'once' ? 3 : 2, { type: 'fixed', delayMs: RETRY_DELAY_MS });
    if (then) job.then(chaosFollowUp.create({ kind: 'then' }).onQueue(queue));
    if (catchFollowUp) job.catch(chaosFollowUp.create({ kind: 'catch' }).onQueue(queue));
    planned.push({ id: job.id, ms, fail, extend, ignoreSignal: payload.ignoreSignal, then, catch: catchFollowUp });
    jobs.push(job);
  }
  const poisonCount = Math.max(1, Math.round(count / 100));
  const poison = Array.from({ length: poisonCount }, (_, i) => `chaos-poison-${runTag}-${i} {"v":1,"id":`);
  return { plan: { jobs: planned, poison }, jobs };
}
