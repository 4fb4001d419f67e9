import { DriverClosedError, defineJob, PayloadTooLargeError, UnrecoverableError } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { createSyncDriver } from '../src/index.js';

describe('sync driver', () => {
  it('runs a job inside push() and resolves after it completed', async () => {
    const seen: string[] = [];
    const greet = defineJob('greet', async (p: { who: string }) => {
      seen.push(p.who);
      return `hello ${p.who}`;
    });
    const driver = createSyncDriver({ jobs: [greet] });
    const result = await greet.create({ who: 'ada' }).dispatch(driver);
    expect(result.pushed).toHaveLength(1);
    expect(seen).toEqual(['ada']);
  });

  it('retries a failing job up to maxAttempts and dead-letters it with the last error', async () => {
    let runs = 0;
    const flaky = defineJob('always-fails', async () => {
      runs += 1;
      throw new Error(`boom ${runs}`);
    });
    const driver = createSyncDriver({ jobs: [flaky] });
    const job = flaky.create({}).attempts(3, { type: 'exponential', delayMs: 10_000 });
    await job.dispatch(driver);
    expect(runs).toBe(3);
    const entry = await driver.deadLetters.get(job.id);
    expect(entry?.reason).toBe('failed');
    expect(entry?.attempts).toBe(3);
    expect(entry?.error.message).toBe('boom 3');
    expect(await driver.deadLetters.count()).toBe(1);
  });

  it('dispatches then, catch, finally and chain follow-ups with ctx.parent', async () => {
    const log: string[] = [];
    const parentResults: unknown[] = [];
    const step = defineJob('step', async (p: { n: number }, ctx) => {
      log.push(`step${p.n}`);
      parentResults.push(ctx.parent?.result);
      return p.n * 10;
    });
    const fail = defineJob('fail', async () => {
      throw new UnrecoverableError('nope');
    });
    const onError = defineJob('on-error', async (_p: {}, ctx) => {
      log.push(`caught:${ctx.parent?.error?.message}`);
    });
    const always = defineJob('always', async (_p: {}, ctx) => {
      log.push(`finally:${ctx.parent?.status}`);
    });
    const driver = createSyncDriver({ jobs: [step, fail, onError, always] });
    await step
      .create({ n: 1 })
      .chain([step.create({ n: 2 }), step.create({ n: 3 })])
      .finally(always.create({}))
      .dispatch(driver);
    await fail.create({}).catch(onError.create({})).finally(always.create({})).dispatch(driver);
    expect(log).toEqual(['step1', 'step2', 'finally:completed', 'step3', 'caught:nope', 'finally:failed']);
    expect(parentResults).toEqual([undefined, 10, 20]);
  });

  it('dead-letters a job name with no handler and carries on', async () => {
    const known = defineJob('known', async () => 'ok');
    const unknown = defineJob('not-registered', async () => 'never');
    const driver = createSyncDriver({ jobs: [known] });
    const job = unknown.create({});
    await job.dispatch(driver);
    const entry = await driver.deadLetters.get(job.id);
    expect(entry?.reason).toBe('unknown-job');
    expect(entry?.error.message).toContain('not-registered');
  });

  it('purgeIds() deletes the dead letters it names and passes over unknown ids', async () => {
    const broken = defineJob('broken', async () => {
      throw new Error('down');
    });
    const driver = createSyncDriver({ jobs: [broken] });
    const gone = broken.create({});
    const stays = broken.create({});
    await gone.dispatch(driver);
    await stays.dispatch(driver);
    expect(await driver.deadLetters.purgeIds([gone.id, gone.id, 'missing'])).toBe(1);
    expect(await driver.deadLetters.get(gone.id)).toBeUndefined();
    expect(await driver.deadLetters.get(stays.id)).toBeDefined();
    await expect(driver.deadLetters.purgeIds([''])).rejects.toThrow(/sync: deadLetters.purgeIds/);
  });

  it('retries a dead letter inline', async () => {
    let fail = true;
    const sometimes = defineJob('sometimes', async () => {
      if (fail) throw new Error('down');
      return 'up';
    });
    const driver = createSyncDriver({ jobs: [sometimes] });
    const job = sometimes.create({});
    await job.dispatch(driver);
    fail = false;
    expect(await driver.deadLetters.retry(job.id)).toBe(true);
    expect(await driver.deadLetters.count()).toBe(0);
    expect(await driver.deadLetters.retry('missing')).toBe(false);
  });

  it('declares that it cannot delay or lease', () => {
    const driver = createSyncDriver({ jobs: [] });
    expect(driver.capabilities).toMatchObject({ delay: 'none', lease: 'none', inline: true, extend: false });
  });

  it('refuses oversized envelopes and calls after close', async () => {
    const big = defineJob('big', async () => undefined);
    const driver = createSyncDriver({ jobs: [big], maxMessageBytes: 1_000 });
    await expect(big.create({ blob: 'x'.repeat(2_000) }).dispatch(driver)).rejects.toBeInstanceOf(PayloadTooLargeError);
    await driver.close();
    await expect(big.create({}).dispatch(driver)).rejects.toBeInstanceOf(DriverClosedError);
  });
});
