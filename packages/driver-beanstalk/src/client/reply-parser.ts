/**
 * One reply of beanstalkd: its first word (`INSERTED`, `RESERVED`, `NOT_FOUND`, …), the words
 * after it, and the data chunk that follows `RESERVED`, `FOUND` and `OK` replies.
 */
export interface Reply {
  readonly word: string;
  readonly args: readonly string[];
  readonly body?: Buffer;
}

/** Replies whose line ends in a byte count followed by that many bytes and CRLF. */
const WITH_BODY = new Set(['RESERVED', 'FOUND', 'OK']);
const CRLF = Buffer.from('\r\n');

/** Longest reply line beanstalkd sends (its own command lines are capped at 224 bytes). */
const MAX_LINE_BYTES = 1_024;

/**
 * Splits the byte stream of one connection into replies. Replies come strictly in the order of
 * the commands (the protocol has no ids), so the caller matches each to the oldest pending command.
 */
export class ReplyParser {
  #buffer: Buffer = Buffer.alloc(0);
  /** The reply line whose data chunk is still arriving. */
  #pending: { word: string; args: string[]; bytes: number } | undefined;

  /** Feeds received bytes; returns the replies completed by them, in order. */
  push(chunk: Buffer): Reply[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const replies: Reply[] = [];
    for (;;) {
      if (this.#pending !== undefined) {
        const { word, args, bytes } = this.#pending;
        if (this.#buffer.length < bytes + 2) break;
        if (this.#buffer[bytes] !== 0x0d || this.#buffer[bytes + 1] !== 0x0a) {
          throw new Error(`beanstalk: the ${bytes}-byte data chunk of a ${word} reply is not followed by CRLF`);
        }
        // A job body is copied, so that one the caller keeps does not pin the whole read buffer; the
        // YAML of an OK reply is read at once and let go.
        const data = this.#buffer.subarray(0, bytes);
        replies.push({ word, args, body: word === 'OK' ? data : Buffer.from(data) });
        this.#buffer = this.#buffer.subarray(bytes + 2);
        this.#pending = undefined;
        continue;
      }
      const end = this.#buffer.indexOf(CRLF);
      if (end < 0) {
        if (this.#buffer.length > MAX_LINE_BYTES) throw new Error(`beanstalk: a reply line longer than ${MAX_LINE_BYTES} bytes`);
        break;
      }
      const line = this.#buffer.toString('latin1', 0, end);
      this.#buffer = this.#buffer.subarray(end + 2);
      const [word = '', ...args] = line.split(' ');
      if (WITH_BODY.has(word)) {
        const bytes = Number(args[args.length - 1]);
        if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`beanstalk: a ${word} reply without a byte count: ${line}`);
        this.#pending = { word, args, bytes };
        continue;
      }
      replies.push({ word, args });
    }
    return replies;
  }

  /** Forgets partial input (the connection it came from is gone). */
  reset(): void {
    this.#buffer = Buffer.alloc(0);
    this.#pending = undefined;
  }
}

/**
 * Reads the YAML of `stats`, `stats-job` and `stats-tube` replies: one `key: value` pair per line
 * (scalars only, as the protocol defines it). Numbers stay strings; see {@link statNumber}.
 */
export function parseStats(body: Buffer): Map<string, string> {
  const stats = new Map<string, string>();
  for (const line of body.toString('utf8').split('\n')) {
    const colon = line.indexOf(': ');
    if (colon <= 0) continue;
    let value = line.slice(colon + 2).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    stats.set(line.slice(0, colon).trim(), value);
  }
  return stats;
}

/** The fields of a `stats-job` reply the driver reads (times in whole seconds, as beanstalkd gives them). */
export interface JobStats {
  readonly tube: string;
  /** `ready`, `reserved`, `delayed` or `buried`. */
  readonly state: string;
  readonly priority: number;
  readonly ageSeconds: number;
  readonly ttrSeconds: number;
  /** Until the TTR runs out (reserved) or the delay ends (delayed); rounded down. */
  readonly timeLeftSeconds: number;
  readonly reserves: number;
  readonly releases: number;
  readonly buries: number;
}

/**
 * Reads a `stats-job` reply without building a map of all its fields: it is read for every claimed
 * job. Throws naming the field when one is missing or not a number.
 */
export function parseJobStats(body: Buffer): JobStats {
  const text = body.toString('latin1');
  return {
    tube: textField(text, 'tube'),
    state: textField(text, 'state'),
    priority: numberField(text, 'pri'),
    ageSeconds: numberField(text, 'age'),
    ttrSeconds: numberField(text, 'ttr'),
    timeLeftSeconds: numberField(text, 'time-left'),
    reserves: numberField(text, 'reserves'),
    releases: numberField(text, 'releases'),
    buries: numberField(text, 'buries'),
  };
}

/** Where the value of `key` starts in the YAML `text` (the key opens a line), or -1. */
function valueAt(text: string, key: string): number {
  const at = text.indexOf(`\n${key}: `);
  return at < 0 ? -1 : at + key.length + 3;
}

function textField(text: string, key: string): string {
  const start = valueAt(text, key);
  if (start < 0) throw new Error(`beanstalk: the stats reply has no ${key}`);
  const end = text.indexOf('\n', start);
  return text.slice(start, end < 0 ? text.length : end).trim();
}

/** An integer field (`time-left` of a job past its deadline can be negative). */
function numberField(text: string, key: string): number {
  const at = valueAt(text, key);
  const negative = at >= 0 && text.charCodeAt(at) === 45; // '-'
  const start = negative ? at + 1 : at;
  let value = 0;
  let end = start;
  for (; start >= 0 && end < text.length; end += 1) {
    const digit = text.charCodeAt(end) - 48;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  if (start < 0 || end === start) throw new Error(`beanstalk: the stats reply has no number for ${key}`);
  return negative ? -value : value;
}

/** Reads the YAML list of `list-tubes` and `list-tubes-watched` replies (`- name` per line). */
export function parseList(body: Buffer): string[] {
  return body
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('- '))
    .map((line) => line.slice(2).trim());
}

/** A numeric field of a stats map; throws naming the field when it is missing or not a number. */
export function statNumber(stats: ReadonlyMap<string, string>, key: string): number {
  const value = Number(stats.get(key));
  if (!Number.isFinite(value)) throw new Error(`beanstalk: the stats reply has no number for ${key}`);
  return value;
}
