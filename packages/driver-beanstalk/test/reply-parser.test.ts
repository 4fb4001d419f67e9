import { describe, expect, it } from 'vitest';
import { parseJobStats, parseList, parseStats, ReplyParser } from '../src/client/reply-parser.js';

describe('ReplyParser', () => {
  it('splits replies and their data chunks however the bytes arrive', () => {
    const stream = Buffer.from('INSERTED 7\r\nRESERVED 7 5\r\nhe\r\no\r\nTIMED_OUT\r\nOK 10\r\n---\nid: 7\n\r\n');
    const whole = new ReplyParser().push(stream);
    for (let cut = 1; cut < stream.length; cut += 1) {
      const parser = new ReplyParser();
      const parts = [...parser.push(stream.subarray(0, cut)), ...parser.push(stream.subarray(cut))];
      expect(parts).toEqual(whole);
    }
    expect(whole.map((r) => r.word)).toEqual(['INSERTED', 'RESERVED', 'TIMED_OUT', 'OK']);
    expect(whole[1]?.body?.toString()).toBe('he\r\no');
    expect(whole[0]?.args).toEqual(['7']);
  });

  it('rejects a data chunk that is not followed by CRLF', () => {
    expect(() => new ReplyParser().push(Buffer.from('FOUND 1 3\r\nabcXY'))).toThrow(/not followed by CRLF/);
  });

  it('reads the YAML of stats replies and tube lists', () => {
    expect(parseStats(Buffer.from('---\nid: 7\ntube: "a;b"\nstate: ready\n'))).toEqual(
      new Map([
        ['id', '7'],
        ['tube', 'a;b'],
        ['state', 'ready'],
      ]),
    );
    expect(parseList(Buffer.from('---\n- default\n- mail;high\n'))).toEqual(['default', 'mail;high']);
  });

  it('reads the fields of a stats-job reply, a negative time-left included, and names a missing one', () => {
    const reply = (timeLeft: string) =>
      Buffer.from(
        `---\nid: 598502\ntube: a;b\nstate: reserved\npri: 12\nage: 3\ndelay: 0\nttr: 60\ntime-left: ${timeLeft}\n` +
          'file: 0\nreserves: 4\ntimeouts: 1\nreleases: 2\nburies: 1\nkicks: 1\n',
      );
    expect(parseJobStats(reply('59'))).toEqual({
      tube: 'a;b',
      state: 'reserved',
      priority: 12,
      ageSeconds: 3,
      ttrSeconds: 60,
      timeLeftSeconds: 59,
      reserves: 4,
      releases: 2,
      buries: 1,
    });
    expect(parseJobStats(reply('-1')).timeLeftSeconds).toBe(-1);
    expect(() => parseJobStats(reply(''))).toThrow(/no number for time-left/);
    expect(() => parseJobStats(Buffer.from('---\nid: 1\nstate: ready\n'))).toThrow(/no tube/);
  });
});
