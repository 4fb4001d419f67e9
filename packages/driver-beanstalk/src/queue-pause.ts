import type { BeanstalkClient } from './client/beanstalk-client.js';
import { statNumber } from './client/reply-parser.js';
import type { Tubes } from './tubes.js';

/**
 * How long each native `pause-tube` lasts, in seconds. The marker, not the native pause, says a
 * queue is paused: a native pause that ran out (or was lost with a server restart, or with its
 * tube when the tube emptied) is put back by the first claim that meets the marker.
 */
export const NATIVE_PAUSE_SECONDS = 3_600;
/** Time-to-run of a marker job (nobody reserves one), in seconds. */
const MARKER_TTR_SECONDS = 60;
/** Most markers one resume deletes (a pause puts one; concurrent pauses can put a few). */
const MAX_MARKERS = 1_000;

/** A job a claim reserved from a paused queue, to be handed back. */
export interface PausedJob {
  readonly jobId: number;
  readonly priority: number;
  readonly tube: string;
}

/**
 * Pause and resume of a queue, shared by every process on the server. beanstalkd's own
 * `pause-tube` stops reserves from a tube and wakes waiting reserves when it ends, but it lasts a
 * bounded time, is not in the binlog (a restart forgets it) and goes with its tube (beanstalkd
 * drops a tube that has no job and no connection using or watching it). So the pause is a marker
 * job, in a tube of its own per queue (`<tubePrefix>queuekit(paused)<queue>`, which keeps it alive
 * and is in the binlog), and the native pause only enforces it: every claim reads the markers of
 * its tubes in the same round trip as the jobs' `stats-job`, and a job it reserved from a marked
 * tube is handed back unrun (bury then kick, counting neither) after the native pause is put back.
 */
export class QueuePause {
  readonly #admin: BeanstalkClient;
  readonly #tubes: Tubes;

  constructor(admin: BeanstalkClient, tubes: Tubes) {
    this.#admin = admin;
    this.#tubes = tubes;
  }

  /** Puts the marker (unless one is there) and pauses the tube natively. Idempotent. */
  async pause(queue: string, tube: string): Promise<void> {
    const admin = this.#admin;
    const marker = this.#tubes.markerOf(tube);
    if (!hasMarker(await admin.statsTube(marker))) {
      const body = Buffer.from(JSON.stringify({ v: 1, queue, pausedAt: Date.now() }));
      await Promise.all([admin.use(marker), admin.put(0, 0, MARKER_TTR_SECONDS, body)]);
    }
    // `use` makes the tube when it does not exist yet (pause-tube needs it to).
    await admin.use(tube);
    await this.enforce(admin, tube);
  }

  /** Deletes the markers, then ends the native pause (waking reserves waiting on the tube). Idempotent. */
  async resume(tube: string): Promise<void> {
    const admin = this.#admin;
    const marker = this.#tubes.markerOf(tube);
    for (let i = 0; i < MAX_MARKERS; i += 1) {
      const [, job] = await Promise.all([admin.use(marker), admin.peekReady()]);
      if (job === undefined) break;
      await admin.delete(job.id);
    }
    await admin.pauseTube(tube, 0);
  }

  /**
   * Pauses `tube` natively on `client`; when its marker turns out gone meanwhile (a resume ran
   * between), ends the pause again, so a pause is never left without its marker.
   */
  async enforce(client: BeanstalkClient, tube: string): Promise<void> {
    const [, [markerStats]] = await Promise.all([
      client.pauseTube(tube, NATIVE_PAUSE_SECONDS),
      client.statsTubes([this.#tubes.markerOf(tube)]),
    ]);
    if (!hasMarker(markerStats)) await client.pauseTube(tube, 0);
  }

  /** Which of `tubes` are paused (have a marker), read on `client` in one round trip (with what else it sends). */
  async markedAmong(client: BeanstalkClient, tubes: readonly string[]): Promise<Set<string>> {
    const stats = await client.statsTubes(tubes.map((tube) => this.#tubes.markerOf(tube)));
    return new Set(tubes.filter((_, i) => hasMarker(stats[i])));
  }

  /**
   * Hands back jobs a claim reserved on `client` from paused tubes: the native pause first (so the
   * kick does not hand them to a waiting reserve), then bury and kick, which count neither a run nor
   * a lost delivery. Resolves once they are back.
   */
  async handBack(client: BeanstalkClient, jobs: readonly PausedJob[]): Promise<void> {
    const tubes = [...new Set(jobs.map((job) => job.tube))];
    await Promise.all([
      ...tubes.map((tube) => this.enforce(client, tube)),
      ...jobs.flatMap((job) => [client.bury(job.jobId, job.priority), client.kickJob(job.jobId)]),
    ]);
  }
}

/**
 * True when a queue is paused: its marker tube (`markerStats`) holds a marker, or its tube
 * (`tubeStats`) is paused natively (by a pause whose resume has not finished, or by another tool).
 */
export function isPaused(
  tubeStats: ReadonlyMap<string, string> | undefined,
  markerStats: ReadonlyMap<string, string> | undefined,
): boolean {
  return hasMarker(markerStats) || (tubeStats !== undefined && statNumber(tubeStats, 'pause') > 0);
}

/** True when a marker tube's stats show a marker. */
function hasMarker(stats: ReadonlyMap<string, string> | undefined): boolean {
  return stats !== undefined && statNumber(stats, 'current-jobs-ready') > 0;
}
