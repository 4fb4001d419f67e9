import { createConnection, type Socket } from 'node:net';
import { DriverClosedError, DriverConnectionError, type QueueError } from '@queuekit/core';
import { type Reply, ReplyParser } from './reply-parser.js';

/** Options of {@link BeanstalkConnection}. */
export interface BeanstalkConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** A connect attempt that takes longer fails, in ms. */
  readonly connectTimeoutMs: number;
  /** Reconnects with backoff after the socket closes unexpectedly; default true. */
  readonly reconnect?: boolean;
  /** Called with the error of a connection that dropped (the pending calls fail with it too). */
  readonly onDrop?: (error: DriverConnectionError) => void;
  /** Commands to send first on every new socket (the replay of `use`, `watch`, `ignore` is added). */
  readonly onConnect?: (connection: BeanstalkConnection) => Promise<void>;
}

/** One command line, or several sent together (`count` lines, settled by their `count` replies at once). */
interface Command {
  readonly data: string;
  readonly body: Buffer | undefined;
  readonly count: number;
  /** The replies so far of a command of several lines. */
  readonly replies: Reply[];
  readonly resolve: (reply: Reply) => void;
  readonly resolveAll: ((replies: Reply[]) => void) | undefined;
  readonly reject: (error: QueueError) => void;
}

const RECONNECT_FIRST_MS = 20;
const RECONNECT_MAX_MS = 1_000;

/**
 * One TCP connection to beanstalkd. Commands are written in call order and each reply settles the
 * oldest pending command (the protocol has no request ids). When the socket closes every pending
 * call fails with a DriverConnectionError; the connection then reconnects with backoff and replays
 * its `use` tube and watch list before anything else, so callers see the same connection state.
 * Calls made while it is down wait for the next connect attempt and fail with its error.
 */
export class BeanstalkConnection {
  readonly address: string;
  readonly #options: BeanstalkConnectionOptions;
  readonly #parser = new ReplyParser();
  #socket: Socket | undefined;
  #open = false;
  #connecting: Promise<void> | undefined;
  /** Written, waiting for their reply, oldest first. */
  #pending: Command[] = [];
  /** Made while no socket was open: written once one is. */
  #waiting: Command[] = [];
  /** What this turn of the event loop wrote, sent together at its end. */
  #out: (string | Buffer)[] = [];
  #hasBodies = false;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #backoffMs = RECONNECT_FIRST_MS;
  /** Incremented by every new socket: state held by the server for an older socket is gone. */
  #generation = 0;
  #using = 'default';
  #watching: readonly string[] = ['default'];

  constructor(options: BeanstalkConnectionOptions) {
    this.#options = options;
    this.address = `${options.host}:${options.port}`;
  }

  /** Which socket is open (0 before the first); jobs reserved on an older one were given back by the server. */
  get generation(): number {
    return this.#generation;
  }

  /** True while a socket is open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Commands written and not yet answered. */
  get pendingCount(): number {
    return this.#pending.length + this.#waiting.length;
  }

  /** The tube `put` goes to. */
  get using(): string {
    return this.#using;
  }

  /** The tubes `reserve` takes from. */
  get watching(): readonly string[] {
    return this.#watching;
  }

  /** Opens the socket (at most one attempt at a time); resolves once it is ready for commands. */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new DriverClosedError('beanstalk: the connection is closed'));
    if (this.#open) return Promise.resolve();
    this.#connecting ??= this.#attempt().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /**
   * Sends one command line (and a job body for `put`); resolves the reply, whatever it is
   * (callers map error replies), or rejects when the connection closes first.
   */
  send(line: string, body?: Buffer): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const command: Command = { data: `${line}\r\n`, body, count: 1, replies: [], resolve, resolveAll: undefined, reject };
      this.#issue(command);
    });
  }

  /**
   * Sends several command lines (no job bodies) as one: resolves all their replies together, in
   * order. One promise for many commands keeps a claim or a group of settles cheap.
   */
  sendAll(lines: readonly string[]): Promise<Reply[]> {
    if (lines.length === 0) return Promise.resolve([]);
    return new Promise<Reply[]>((resolveAll, reject) => {
      const data = `${lines.join('\r\n')}\r\n`;
      this.#issue({ data, body: undefined, count: lines.length, replies: [], resolve: () => undefined, resolveAll, reject });
    });
  }

  #issue(command: Command): void {
    if (this.#closed) {
      command.reject(new DriverClosedError('beanstalk: the connection is closed'));
      return;
    }
    if (this.#open) {
      this.#write(command);
      return;
    }
    this.#waiting.push(command);
    // A failed attempt rejects what waited for it; there is nothing to do with its error here.
    this.connect().catch(() => undefined);
  }

  /** `use`: later `put`s go to `tube`; replayed after a reconnect. */
  async use(tube: string): Promise<void> {
    if (this.#using === tube) return;
    this.#using = tube;
    expectWord(await this.send(`use ${tube}`), 'USING', 'use');
  }

  /**
   * Makes the watch list exactly `tubes` (watch the new ones first, then ignore the rest, so the
   * list is never empty); the commands are pipelined and the list is replayed after a reconnect.
   */
  async watchOnly(tubes: readonly string[]): Promise<void> {
    // The usual case on a claim: the list is already `tubes`, in the same order.
    if (tubes.length === this.#watching.length && tubes.every((tube, i) => tube === this.#watching[i])) return;
    const current = new Set(this.#watching);
    const wanted = new Set(tubes);
    const calls: Promise<Reply>[] = [];
    for (const tube of tubes) if (!current.has(tube)) calls.push(this.send(`watch ${tube}`));
    for (const tube of current) if (!wanted.has(tube)) calls.push(this.send(`ignore ${tube}`));
    this.#watching = [...tubes];
    for (const reply of await Promise.all(calls)) {
      // NOT_IGNORED: the tube was the last one watched, which a replay after a reconnect can cause.
      if (reply.word !== 'WATCHING' && reply.word !== 'NOT_IGNORED') throw unexpectedReply('watch', reply);
    }
  }

  /** Closes the socket for good; pending calls fail with DriverClosedError. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const error = new DriverClosedError(`beanstalk: the connection to ${this.address} was closed`);
    this.#failAll(error);
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#open = false;
  }

  /** Destroys the socket as a network failure would (tests of reconnecting). */
  destroySocket(): void {
    this.#socket?.destroy();
  }

  /**
   * Drops the socket on purpose, so the server gives back what this connection had reserved:
   * pending calls fail, nothing is reported, and the next call opens a new socket.
   */
  reset(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    this.#open = false;
    const error = new DriverConnectionError(`beanstalk: the connection to ${this.address} was reset to give back its job`);
    const pending = this.#pending;
    this.#pending = [];
    this.#out = [];
    for (const command of pending) command.reject(error);
    socket.destroy();
  }

  #attempt(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host: this.#options.host, port: this.#options.port, noDelay: true, keepAlive: true });
      this.#socket = socket;
      const timer = setTimeout(() => {
        socket.destroy(new Error(`connect timed out after ${this.#options.connectTimeoutMs} ms`));
      }, this.#options.connectTimeoutMs);
      timer.unref();
      const failed = (cause: Error): void => {
        clearTimeout(timer);
        const error = new DriverConnectionError(`beanstalk: cannot connect to ${this.address}: ${cause.message}`, { cause });
        if (this.#socket === socket) this.#socket = undefined;
        // What waited for this attempt fails now, with its cause, rather than after a timeout.
        this.#failAll(error);
        this.#scheduleReconnect();
        reject(error);
      };
      socket.once('error', failed);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', failed);
        this.#opened(socket).then(resolve, reject);
      });
    });
  }

  async #opened(socket: Socket): Promise<void> {
    this.#parser.reset();
    this.#open = true;
    this.#generation += 1;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {
      // 'close' follows and fails the pending calls with a DriverConnectionError.
    });
    socket.once('close', (hadError) => this.#onClose(socket, hadError));
    // The replay goes out before the calls that waited, which are written after it, in order.
    const waiting = this.#waiting;
    this.#waiting = [];
    const replay: Promise<unknown>[] = [];
    if (this.#using !== 'default') replay.push(this.send(`use ${this.#using}`));
    const watched = this.#watching;
    for (const tube of watched) if (tube !== 'default') replay.push(this.send(`watch ${tube}`));
    if (!watched.includes('default')) replay.push(this.send('ignore default'));
    if (this.#options.onConnect !== undefined) replay.push(this.#options.onConnect(this));
    for (const command of waiting) this.#write(command);
    await Promise.all(replay);
    this.#backoffMs = RECONNECT_FIRST_MS;
  }

  #write(command: Command): void {
    this.#pending.push(command);
    // Commands of one event-loop turn leave in one write: one syscall and one segment.
    if (this.#out.length === 0) process.nextTick(() => this.#flush());
    this.#out.push(command.data);
    if (command.body !== undefined) {
      this.#hasBodies = true;
      this.#out.push(command.body, '\r\n');
    }
  }

  #flush(): void {
    const parts = this.#out;
    const bodies = this.#hasBodies;
    this.#out = [];
    this.#hasBodies = false;
    const socket = this.#socket;
    if (socket === undefined || parts.length === 0) return;
    socket.write(
      bodies ? Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : part))) : parts.join(''),
    );
  }

  #onData(chunk: Buffer): void {
    let replies: Reply[];
    try {
      replies = this.#parser.push(chunk);
    } catch (error) {
      // A stream we cannot parse cannot be matched to commands any more: drop the socket.
      this.#socket?.destroy(error as Error);
      return;
    }
    for (const reply of replies) {
      const command = this.#pending[0];
      if (command === undefined) {
        this.#socket?.destroy(new Error(`beanstalk: a ${reply.word} reply arrived with no command waiting for it`));
        return;
      }
      if (command.resolveAll === undefined) {
        this.#pending.shift();
        command.resolve(reply);
        continue;
      }
      command.replies.push(reply);
      if (command.replies.length === command.count) {
        this.#pending.shift();
        command.resolveAll?.(command.replies);
      }
    }
  }

  #onClose(socket: Socket, hadError: boolean): void {
    if (this.#socket !== socket && this.#socket !== undefined) return;
    this.#socket = undefined;
    this.#open = false;
    if (this.#closed) return;
    const pending = this.#pending.length;
    const error = new DriverConnectionError(
      `beanstalk: the connection to ${this.address} was lost${hadError ? ' (socket error)' : ''}` +
        (pending > 0 ? `; ${pending} call(s) pending failed` : ''),
    );
    const pendingCommands = this.#pending;
    this.#pending = [];
    this.#out = [];
    for (const command of pendingCommands) command.reject(error);
    this.#options.onDrop?.(error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#options.reconnect === false || this.#reconnectTimer !== undefined) return;
    const delayMs = this.#backoffMs;
    this.#backoffMs = Math.min(RECONNECT_MAX_MS, this.#backoffMs * 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      // A failed attempt schedules the next one itself.
      if (!this.#open && !this.#closed) this.connect().catch(() => undefined);
    }, delayMs);
    this.#reconnectTimer.unref();
  }

  #failAll(error: QueueError): void {
    const all = [...this.#pending, ...this.#waiting];
    this.#pending = [];
    this.#waiting = [];
    for (const command of all) command.reject(error);
  }
}

/** Throws unless the reply is `word` (the only success reply of `command`). */
export function expectWord(reply: Reply, word: string, command: string): void {
  if (reply.word !== word) throw unexpectedReply(command, reply);
}

/** The error for a reply a command does not define. */
export function unexpectedReply(command: string, reply: Reply): Error {
  return new Error(`beanstalk: ${command}: unexpected reply ${[reply.word, ...reply.args].join(' ')}`);
}
