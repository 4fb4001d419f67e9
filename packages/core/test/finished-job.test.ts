import { describe, expect, it } from 'vitest';
import { decodeFinishedJob, encodeFinishedJob, type FinishedJob } from '../src/driver/index.js';
import { PayloadDecodeError } from '../src/index.js';

const base: FinishedJob = {
  id: 'job-"1"',
  queue: 'emails',
  name: 'send',
  state: 'completed',
  attempts: 2,
  createdAt: 1_000,
  availableAt: 1_500,
  startedAt: 2_000,
  finishedAt: 2_250,
};

describe('finished-job records', () => {
  it('read back what was written, with and without a result and progress', () => {
    expect(decodeFinishedJob(encodeFinishedJob(base))).toEqual(base);
    const full = { ...base, result: { sent: true, to: ['a@b'] }, progress: 100 };
    expect(decodeFinishedJob(encodeFinishedJob(full))).toEqual(full);
    const cancelled: FinishedJob = {
      id: 'c',
      queue: 'q',
      name: undefined,
      state: 'cancelled',
      attempts: 0,
      createdAt: undefined,
      finishedAt: 5,
    };
    expect(decodeFinishedJob(encodeFinishedJob(cancelled))).toEqual(cancelled);
    expect(decodeFinishedJob(encodeFinishedJob({ ...base, result: null }))).toEqual({ ...base, result: null });
  });

  it('read back ids, queues and names that JSON must escape, one after another of different queues and names', () => {
    const texts = ['plain-id_1.2:3@x/y+z', 'a"b', 'back\\slash', 'line\nbreak', 'tab\there', '\u2028\u2029', '\u0001', 'é', ''];
    const records: FinishedJob[] = [];
    for (const id of texts) {
      for (const queue of ['emails', 'q"2']) {
        records.push({ ...base, id, queue, name: id === '' ? undefined : id, state: records.length % 3 === 0 ? 'cancelled' : 'completed' });
      }
    }
    for (const record of records) {
      const expected = record.name === undefined ? { ...record, name: undefined } : record;
      expect(decodeFinishedJob(encodeFinishedJob(record))).toEqual(expected);
    }
    // Times that are not finite numbers are kept as absent, not as text JSON cannot read.
    const odd = decodeFinishedJob(encodeFinishedJob({ ...base, createdAt: Number.NaN, startedAt: Number.POSITIVE_INFINITY }));
    expect(odd.createdAt).toBeUndefined();
    expect(odd.startedAt).toBeUndefined();
  });

  it('are a positional array, about half the size of the object with its field names', () => {
    const text = encodeFinishedJob(base);
    expect(JSON.parse(text)).toEqual([1, 'job-"1"', 'emails', 'completed', 'send', 2, 1_000, 1_500, 2_000, 2_250]);
    expect(text.length).toBeLessThan(JSON.stringify(base).length * 0.6);
  });

  it('leave out a result that JSON cannot carry or that is too large, and say why', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const notJson = decodeFinishedJob(encodeFinishedJob({ ...base, result: cyclic as never }));
    expect(notJson.result).toBeUndefined();
    expect(notJson.resultOmitted).toMatch(/^result is not JSON: /);
    const large = decodeFinishedJob(encodeFinishedJob({ ...base, result: 'x'.repeat(70_000) }));
    expect(large.result).toBeUndefined();
    expect(large.resultOmitted).toMatch(/bytes is larger than the 65536 bytes kept/);
  });

  it('still read records kept as an object', () => {
    const stored = JSON.stringify({ ...base, result: 7 });
    expect(decodeFinishedJob(stored)).toEqual({ ...base, result: 7 });
  });

  it('refuse text that is not a record, naming what is wrong', () => {
    expect(() => decodeFinishedJob('not json')).toThrow(PayloadDecodeError);
    expect(() => decodeFinishedJob('[2,"a","q","completed",null,1,null,null,null,5]')).toThrow(/unknown format 2/);
    expect(() => decodeFinishedJob('[1,"a","q","done",null,1,null,null,null,5]')).toThrow(/record a: unknown state/);
    expect(() => decodeFinishedJob('[1,"a","q","completed",null,1,null,null,null,null]')).toThrow(/finishedAt is not a number/);
    expect(() => decodeFinishedJob('[1,"a","q","completed",null,1,null,null,null,5,3]')).toThrow(/last member is not an object/);
  });
});
