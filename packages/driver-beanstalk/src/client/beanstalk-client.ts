import { DriverError, PayloadTooLargeError, type QueueError } from '@queuekit/core';
import { BeanstalkConnection, unexpectedReply } from './beanstalk-connection.js';
import { type JobStats, parseJobStats, parseList, parseStats, type Reply } from './reply-parser.js';

/** A job as `reserve` and the `peek` commands return it. */
export interface BeanstalkJob {
  readonly id: number;
  readonly body: Buffer;
}

/** The outcome of `reserve-with-timeout`. */
export type ReserveOutcome = BeanstalkJob | 'timed-out' | 'deadline-soon';

/**
 * The error replies any command can get, mapped to queuekit's errors with what they mean for the
 * caller. `JOB_TOO_BIG` is a PayloadTooLargeError (the driver refuses such bodies before sending,
 * so it means the server's `-z` limit is lower than the driver was told).
 */
export function replyError(command: string, reply: Reply): QueueError | undefined {
  switch (reply.word) {
    case 'OUT_OF_MEMORY':
      return new DriverError(`beanstalk: ${command}: the server is out of memory (OUT_OF_MEMORY); try again later`);
    case 'INTERNAL_ERROR':
      return new DriverError(`beanstalk: ${command}: the server reported an internal error (INTERNAL_ERROR)`);
    case 'BAD_FORMAT':
      return new DriverError(`beanstalk: ${command}: the server refused the command line as malformed (BAD_FORMAT)`);
    case 'UNKNOWN_COMMAND':
      return new DriverError(
        `beanstalk: ${command}: the server does not know this command (UNKNOWN_COMMAND); beanstalkd 1.12 or later is needed`,
      );
    case 'DRAINING':
      return new DriverError(`beanstalk: ${command}: the server is draining (DRAINING, after SIGUSR1) and takes no new jobs`);
    case 'JOB_TOO_BIG':
      return new PayloadTooLargeError(
        `beanstalk: ${command}: the job body is larger than the server's max-job-size (JOB_TOO_BIG; beanstalkd -z)`,
      );
    case 'EXPECTED_CRLF':
      return new DriverError(`beanstalk: ${command}: the job body was not followed by CRLF (EXPECTED_CRLF)`);
    default:
      return undefined;
  }
}

/** The error for `reply`: a mapped error reply, or an unexpected one. */
function failure(command: string, reply: Reply): Error {
  return replyError(command, reply) ?? unexpectedReply(command, reply);
}

function jobStatsOf(reply: Reply): JobStats | undefined {
  if (reply.word === 'OK') return parseJobStats(reply.body as Buffer);
  if (reply.word === 'NOT_FOUND') return undefined;
  throw failure('stats-job', reply);
}

function jobOf(reply: Reply): BeanstalkJob {
  return { id: Number(reply.args[0]), body: reply.body as Buffer };
}

/**
 * The typed commands of the beanstalkd protocol (doc/protocol.txt) on one connection. `NOT_FOUND`
 * and `TIMED_OUT` are ordinary outcomes (false / undefined / 'timed-out'); error replies throw.
 */
export class BeanstalkClient extends BeanstalkConnection {
  /** `put`: stores a job in the used tube; resolves its id. */
  async put(priority: number, delaySeconds: number, ttrSeconds: number, body: Buffer): Promise<number> {
    const reply = await this.send(`put ${priority} ${delaySeconds} ${ttrSeconds} ${body.length}`, body);
    if (reply.word === 'INSERTED') return Number(reply.args[0]);
    if (reply.word === 'BURIED') {
      throw new DriverError(`beanstalk: put: the server ran out of memory and buried the new job ${reply.args[0]} (BURIED)`);
    }
    throw failure('put', reply);
  }

  /** `reserve-with-timeout`: the next job of the watched tubes, waiting up to `seconds`. */
  async reserveWithTimeout(seconds: number): Promise<ReserveOutcome> {
    const reply = await this.send(`reserve-with-timeout ${seconds}`);
    if (reply.word === 'RESERVED') return jobOf(reply);
    if (reply.word === 'TIMED_OUT') return 'timed-out';
    if (reply.word === 'DEADLINE_SOON') return 'deadline-soon';
    throw failure('reserve-with-timeout', reply);
  }

  /** `reserve-with-timeout 0` `count` times in one go: the jobs that were ready, in order (TIMED_OUT and DEADLINE_SOON give none). */
  async reserveReady(count: number): Promise<BeanstalkJob[]> {
    const replies = await this.sendAll(Array.from({ length: count }, () => 'reserve-with-timeout 0'));
    const jobs: BeanstalkJob[] = [];
    for (const reply of replies) {
      if (reply.word === 'RESERVED') jobs.push(jobOf(reply));
      else if (reply.word !== 'TIMED_OUT' && reply.word !== 'DEADLINE_SOON') throw failure('reserve-with-timeout', reply);
    }
    return jobs;
  }

  /** `stats-job` of each id in one go; undefined for a job that does not exist. */
  async statsJobs(ids: readonly number[]): Promise<(JobStats | undefined)[]> {
    const replies = await this.sendAll(ids.map((id) => `stats-job ${id}`));
    return replies.map(jobStatsOf);
  }

  /** `stats-tube` of each tube in one go; undefined for a tube that does not exist. */
  async statsTubes(tubes: readonly string[]): Promise<(Map<string, string> | undefined)[]> {
    const replies = await this.sendAll(tubes.map((tube) => `stats-tube ${tube}`));
    return replies.map((reply) => {
      if (reply.word === 'OK') return parseStats(reply.body as Buffer);
      if (reply.word === 'NOT_FOUND') return undefined;
      throw failure('stats-tube', reply);
    });
  }

  /** `delete` of each id in one go: per id, true when deleted. */
  async deleteAll(ids: readonly number[]): Promise<boolean[]> {
    const replies = await this.sendAll(ids.map((id) => `delete ${id}`));
    return replies.map((reply) => {
      if (reply.word === 'DELETED') return true;
      if (reply.word === 'NOT_FOUND') return false;
      throw failure('delete', reply);
    });
  }

  /** `delete`: true when deleted, false when the job is gone or reserved by another connection. */
  delete(id: number): Promise<boolean> {
    return this.#found('delete', `delete ${id}`, 'DELETED');
  }

  /** `release`: back to ready (or delayed); false when this connection does not hold the job. */
  async release(id: number, priority: number, delaySeconds: number): Promise<boolean> {
    const reply = await this.send(`release ${id} ${priority} ${delaySeconds}`);
    if (reply.word === 'RELEASED') return true;
    if (reply.word === 'NOT_FOUND') return false;
    if (reply.word === 'BURIED') throw new DriverError(`beanstalk: release: the server ran out of memory and buried job ${id} (BURIED)`);
    throw failure('release', reply);
  }

  /** `bury`: false when this connection does not hold the job. */
  bury(id: number, priority: number): Promise<boolean> {
    return this.#found('bury', `bury ${id} ${priority}`, 'BURIED');
  }

  /** `touch`: restarts the job's TTR; false when this connection does not hold the job. */
  touch(id: number): Promise<boolean> {
    return this.#found('touch', `touch ${id}`, 'TOUCHED');
  }

  /** `kick-job`: a buried or delayed job to ready; false when there is no such job in those states. */
  kickJob(id: number): Promise<boolean> {
    return this.#found('kick-job', `kick-job ${id}`, 'KICKED');
  }

  /**
   * `pause-tube`: no job of `tube` is reserved for `seconds` (0 ends a pause at once, waking waiting
   * reserves); false when the tube does not exist.
   */
  pauseTube(tube: string, seconds: number): Promise<boolean> {
    return this.#found('pause-tube', `pause-tube ${tube} ${seconds}`, 'PAUSED');
  }

  /** `peek <id>`: the job, whatever its state; undefined when there is none. */
  peek(id: number): Promise<BeanstalkJob | undefined> {
    return this.#peek(`peek ${id}`);
  }

  /** `peek-ready`: the next ready job of the used tube. */
  peekReady(): Promise<BeanstalkJob | undefined> {
    return this.#peek('peek-ready');
  }

  /** `peek-delayed`: the delayed job of the used tube due first. */
  peekDelayed(): Promise<BeanstalkJob | undefined> {
    return this.#peek('peek-delayed');
  }

  /** `stats-job`: the job's statistics; undefined when there is no such job. */
  async statsJob(id: number): Promise<JobStats | undefined> {
    return jobStatsOf(await this.send(`stats-job ${id}`));
  }

  /** `stats-tube`: the tube's statistics; undefined when the tube does not exist (never used, or empty and unwatched). */
  statsTube(tube: string): Promise<Map<string, string> | undefined> {
    return this.#stats('stats-tube', `stats-tube ${tube}`);
  }

  /** `stats`: the server's statistics (`max-job-size`, `version`, …). */
  async stats(): Promise<Map<string, string>> {
    const stats = await this.#stats('stats', 'stats');
    if (stats === undefined) throw new Error('beanstalk: stats: the server answered NOT_FOUND');
    return stats;
  }

  /** `list-tubes`: every tube that exists. */
  async listTubes(): Promise<string[]> {
    const reply = await this.send('list-tubes');
    if (reply.word === 'OK') return parseList(reply.body as Buffer);
    throw failure('list-tubes', reply);
  }

  /** `list-tubes-watched`: the tubes `reserve` takes from, as the server has them. */
  async listTubesWatched(): Promise<string[]> {
    const reply = await this.send('list-tubes-watched');
    if (reply.word === 'OK') return parseList(reply.body as Buffer);
    throw failure('list-tubes-watched', reply);
  }

  /** `list-tube-used`: the used tube (the cheapest round trip, for ping). */
  async listTubeUsed(): Promise<string> {
    const reply = await this.send('list-tube-used');
    if (reply.word === 'USING') return reply.args[0] ?? '';
    throw failure('list-tube-used', reply);
  }

  async #found(command: string, line: string, success: string): Promise<boolean> {
    const reply = await this.send(line);
    if (reply.word === success) return true;
    if (reply.word === 'NOT_FOUND') return false;
    throw failure(command, reply);
  }

  async #peek(line: string): Promise<BeanstalkJob | undefined> {
    const reply = await this.send(line);
    if (reply.word === 'FOUND') return jobOf(reply);
    if (reply.word === 'NOT_FOUND') return undefined;
    throw failure(line.split(' ')[0] ?? line, reply);
  }

  async #stats(command: string, line: string): Promise<Map<string, string> | undefined> {
    const reply = await this.send(line);
    if (reply.word === 'OK') return parseStats(reply.body as Buffer);
    if (reply.word === 'NOT_FOUND') return undefined;
    throw failure(command, reply);
  }
}
