import type { StandardSchemaV1 } from '@standard-schema/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEnvelope, defineJob, InvalidPayloadError, Worker } from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { until } from './fixtures/wait.js';

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
});

const signup = z.object({ user: z.object({ email: z.email(), tags: z.array(z.string()).default([]) }) });

describe('payload schemas', () => {
  it('create() refuses a payload the schema rejects, naming the path, and nothing is pushed', async () => {
    const driver = createMemoryDriver();
    const job = defineJob('signup', async (p) => p.user.email, { schema: signup });
    let caught: unknown;
    try {
      job.create({ user: { email: 'not-an-email' } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidPayloadError);
    const error = caught as InvalidPayloadError;
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain('job signup: payload is invalid: user.email:');
    expect(error.issues.map((issue) => issue.path)).toEqual(['user.email']);
    expect((await driver.stats('default')).ready).toBe(0);
  });

  it('an asynchronous schema is checked before dispatch: dispatch() rejects and pushes nothing', async () => {
    const driver = createMemoryDriver();
    const asyncSchema: StandardSchemaV1<{ n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) =>
          typeof (value as { n?: unknown }).n === 'number'
            ? { value: value as { n: number } }
            : { issues: [{ message: 'expected a number', path: [{ key: 'n' }] }] },
      },
    };
    const job = defineJob('async-checked', async (p) => p.n, { schema: asyncSchema });
    await expect(job.create({ n: 'x' as unknown as number }).dispatch(driver)).rejects.toThrow(/payload is invalid: n: expected a number/);
    expect((await driver.stats('default')).ready).toBe(0);
    await job.create({ n: 2 }).dispatch(driver);
    expect((await driver.stats('default')).ready).toBe(1);
  });

  it('a payload that fails the schema at run time is dead-lettered as invalid-payload, never retried, the handler never called', async () => {
    const driver = createMemoryDriver();
    let runs = 0;
    const job = defineJob(
      'signup',
      async () => {
        runs += 1;
      },
      { schema: signup },
    );
    // Written by older or foreign code that did not check: pushed as a raw envelope.
    const envelope = createEnvelope({ name: 'signup', payload: { user: { email: 42 } }, maxAttempts: 5 });
    await driver.push([envelope]);
    const worker = new Worker({ driver, jobs: [job], waitMs: 20 });
    workers.push(worker);
    const reasons: string[] = [];
    worker.on('dead-lettered', (event) => reasons.push(event.reason));
    void worker.run();
    await until(async () => (await driver.deadLetters.count()) === 1);
    const entry = await driver.deadLetters.get(envelope.id);
    expect(entry?.reason).toBe('invalid-payload');
    expect(entry?.attempts).toBe(0);
    expect(entry?.error.name).toBe('InvalidPayloadError');
    expect(entry?.error.message).toContain('user.email');
    expect(reasons).toEqual(['invalid-payload']);
    expect(runs).toBe(0);
  });

  it("the handler gets the schema's output (defaults applied)", async () => {
    const driver = createMemoryDriver();
    const seen: unknown[] = [];
    const job = defineJob(
      'signup',
      async (p) => {
        seen.push(p.user.tags);
      },
      { schema: signup },
    );
    await job.create({ user: { email: 'a@example.com' } }).dispatch(driver);
    const worker = new Worker({ driver, jobs: [job], waitMs: 20, stopWhenEmpty: true });
    await worker.run();
    expect(seen).toEqual([[]]);
  });
});

describe('payload versions', () => {
  it('a payload dispatched by an older definition is upgraded before the handler sees it', async () => {
    const driver = createMemoryDriver();
    const v1 = defineJob('greet', async (_p: { name: string }) => undefined);
    await v1.create({ name: 'Ada Lovelace' }).dispatch(driver);
    const seen: unknown[] = [];
    const calls: number[] = [];
    const v2 = defineJob(
      'greet',
      async (p) => {
        seen.push(p);
      },
      {
        version: 2,
        schema: z.object({ first: z.string(), last: z.string() }),
        upgrade: (old, fromVersion) => {
          calls.push(fromVersion);
          const [first = '', last = ''] = (old as { name: string }).name.split(' ');
          return { first, last };
        },
      },
    );
    await v2.create({ first: 'Grace', last: 'Hopper' }).dispatch(driver);
    await new Worker({ driver, jobs: [v2], waitMs: 20, stopWhenEmpty: true }).run();
    expect(seen).toEqual([
      { first: 'Ada', last: 'Lovelace' },
      { first: 'Grace', last: 'Hopper' },
    ]);
    expect(calls).toEqual([1]);
  });

  it('a payload newer than the worker, or one whose upgrade throws, is dead-lettered as invalid-payload', async () => {
    const driver = createMemoryDriver();
    const v3 = defineJob('shape', async () => undefined, { version: 3, upgrade: (old) => old });
    const newer = v3.create({});
    await newer.dispatch(driver);
    const v2 = defineJob('shape', async () => undefined, {
      version: 2,
      upgrade: () => {
        throw new Error('cannot read that shape');
      },
    });
    const older = createEnvelope({ name: 'shape', payload: {} });
    await driver.push([older]);
    await new Worker({ driver, jobs: [v2], waitMs: 20, stopWhenEmpty: true }).run();
    const newerEntry = await driver.deadLetters.get(newer.id);
    expect(newerEntry?.reason).toBe('invalid-payload');
    expect(newerEntry?.error.message).toContain('version 3 is newer than');
    const olderEntry = await driver.deadLetters.get(older.id);
    expect(olderEntry?.reason).toBe('invalid-payload');
    expect(olderEntry?.error.message).toContain('upgrading from version 1 to 2 failed: cannot read that shape');
  });

  it('a version above 1 without an upgrade step is refused at definition', () => {
    expect(() => defineJob('shape', async () => undefined, { version: 2 })).toThrow(/needs an upgrade/);
  });
});
