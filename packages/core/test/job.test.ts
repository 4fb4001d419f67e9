import { describe, expect, it } from 'vitest';
import { fromBackend } from '../src/driver/index.js';
import { defineJob, InvalidArgumentError, Priority } from '../src/index.js';
import { followUpEnvelopes } from '../src/job/follow-up.js';

describe('Job', () => {
  const send = defineJob('send-email', async (_p: { to: string }) => 'sent', { queue: 'mail', maxAttempts: 2 });
  const audit = defineJob('audit', async () => undefined);

  it('builds an envelope from its four concerns with the definition defaults', () => {
    const envelope = send.create({ to: 'a@b.c' }).priority('HIGH').unique('mail:a@b.c').timeout(5_000).toEnvelope(undefined, 1_000);
    expect(envelope).toMatchObject({
      v: 1,
      name: 'send-email',
      queue: 'mail',
      payload: { to: 'a@b.c' },
      priority: Priority.HIGH,
      maxAttempts: 2,
      createdAt: 1_000,
      availableAt: 1_000,
      uniqueKey: 'mail:a@b.c',
      timeoutMs: 5_000,
    });
  });

  it('delays by ms or until a Date', () => {
    expect(send.create({ to: 'x' }).delay(500).toEnvelope(undefined, 1_000).availableAt).toBe(1_500);
    expect(send.create({ to: 'x' }).delay(new Date(9_000)).toEnvelope(undefined, 1_000).availableAt).toBe(9_000);
  });

  it('stores then/catch/finally as durable descriptors and nests a chain', () => {
    const envelope = send
      .create({ to: 'x' })
      .then(audit.create({ step: 'sent' }))
      .catch(audit.create({ step: 'failed' }))
      .finally(audit.create({ step: 'done' }))
      .chain([audit.create({ n: 1 }), audit.create({ n: 2 }), audit.create({ n: 3 })])
      .toEnvelope();
    expect(envelope.callbacks.then.map((d) => d.payload)).toEqual([{ step: 'sent' }, { n: 1 }]);
    expect(envelope.callbacks.catch[0]?.payload).toEqual({ step: 'failed' });
    expect(envelope.callbacks.finally[0]?.payload).toEqual({ step: 'done' });
    const second = envelope.callbacks.then[1]?.callbacks.then[0];
    expect(second?.payload).toEqual({ n: 2 });
    expect(second?.callbacks.then[0]?.payload).toEqual({ n: 3 });
    expect(JSON.parse(JSON.stringify(envelope))).toEqual(envelope);
  });

  it('is not a promise: awaiting a Job rejects and points at dispatch()', async () => {
    const job = audit.create({});
    await expect(Promise.resolve().then(() => job)).rejects.toThrowError('use `await job.dispatch(driver)`');
  });

  it('rejects bad input with the field named', () => {
    expect(() => send.create({ to: 'x' }).priority(-1)).toThrowError('priority');
    expect(() => send.create({ to: 'x' }).onQueue('bad queue!')).toThrowError('queue');
    expect(() => send.create({ to: 'x' }).attempts(0)).toThrowError('maxAttempts');
    expect(() => send.create({ to: 'x' }).delay(-5)).toThrowError(InvalidArgumentError);
    expect(() => defineJob('has spaces', async () => 1)).toThrowError('job name');
    expect(() => send.create({ to: 'x' }).group('')).toThrowError(InvalidArgumentError);
    expect(() => send.create({ to: 'x' }).group('g'.repeat(201))).toThrowError('group: expected a string of 1-200 characters');
  });

  it('carries its group into its envelope and its follow-up descriptors; none when unset', () => {
    const follow = audit.create({}).group('tenant-7');
    const job = send.create({ to: 'x' }).group('tenant-7').then(follow);
    const envelope = job.toEnvelope();
    expect(envelope.group).toBe('tenant-7');
    expect(envelope.callbacks.then[0]?.group).toBe('tenant-7');
    expect(followUpEnvelopes(envelope.callbacks.then, { id: job.id, name: job.name, status: 'completed' })[0]?.group).toBe('tenant-7');
    expect('group' in send.create({ to: 'x' }).toEnvelope()).toBe(false);
  });

  it('reads an envelope group back, and refuses one that is not a 1-200 character string', () => {
    const envelope = send.create({ to: 'x' }).group('tenant-7').toEnvelope();
    expect(fromBackend(JSON.stringify(envelope)).group).toBe('tenant-7');
    expect(fromBackend(JSON.stringify({ ...envelope, group: undefined })).group).toBeUndefined();
    expect(() => fromBackend(JSON.stringify({ ...envelope, group: 42 }))).toThrowError('envelope.group');
    expect(() => fromBackend(JSON.stringify({ ...envelope, group: '' }))).toThrowError('envelope.group');
  });
});
