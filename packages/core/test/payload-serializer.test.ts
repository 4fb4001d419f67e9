import { describe, expect, it } from 'vitest';
import { defineJob, PayloadSerializer, PayloadTooLargeError, SerializationError } from '../src/index.js';

describe('PayloadSerializer', () => {
  const serializer = new PayloadSerializer();
  const refused: Array<[string, unknown, string]> = [
    ['a function', { user: { notify: () => 1 } }, 'payload.user.notify: functions cannot be serialized'],
    ['a BigInt', { n: 10n }, 'payload.n: BigInt cannot be serialized'],
    ['undefined inside an array', { list: [1, undefined] }, 'payload.list[1]: undefined inside an array'],
    ['NaN', { x: Number.NaN }, 'payload.x: NaN is not a finite number'],
    ['a Date', { at: new Date(0) }, 'payload.at: Date instances cannot be serialized'],
    ['a Map', { m: new Map() }, 'payload.m: Map instances'],
    ['a symbol', { s: Symbol('x') }, 'payload.s: symbols'],
  ];
  for (const [what, value, message] of refused) {
    it(`refuses ${what}, naming the path`, () => {
      expect(() => serializer.encode(value)).toThrowError(SerializationError);
      expect(() => serializer.encode(value)).toThrowError(message);
    });
  }

  it('refuses a cycle', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => serializer.encode(a)).toThrowError('payload.self: circular reference');
  });

  it('accepts plain JSON and the same object twice (not a cycle)', () => {
    const shared = { k: 1 };
    expect(serializer.encode({ a: shared, b: shared, c: [null, 'x', true], d: undefined })).toBe(
      '{"a":{"k":1},"b":{"k":1},"c":[null,"x",true]}',
    );
  });

  it('refuses an encoding above maxBytes', () => {
    const small = new PayloadSerializer({ maxBytes: 10 });
    expect(() => small.encode({ text: 'more than ten bytes' })).toThrowError(PayloadTooLargeError);
  });

  it('refuses an unserialisable payload at dispatch, before anything is pushed', () => {
    const job = defineJob('notify', async () => undefined);
    expect(() => job.create({ user: { notify: () => 1 } } as never).toEnvelope()).toThrowError(
      'payload.user.notify: functions cannot be serialized',
    );
  });
});
