import {
  cancelJob,
  defineJob,
  InvalidArgumentError,
  JobCancelledError,
  JobFailedError,
  type JobInfo,
  LeaseLostError,
  listJobs,
  lookupJob,
  type QueueDriver,
  type Reservation,
  Worker,
} from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { CRASH_JOB_NAME, spawnCrashChild } from '../crash-protocol.js';
import { completedRecord, reserveEventually, reserveOrFail, sleep, testEnvelope, testFailure, waitUntil } from '../helpers.js';

/** Ids of `infos`, in order. */
const ids = (infos: readonly JobInfo[]): string[] => infos.map((info) => info.id);

/**
 * Jobs you can look up and steer: lookup by id and by state, retention of finished jobs with their
 * results, progress, cancel, pause and resume, and the handle `dispatch()` returns. Each member is
 * tested on every driver that declares it.
 */
export function describeJobState(f: ContractFixture): void {
  const caps = f.capabilities;

  describe.skipIf(!caps.lookup)('job lookup (capability: lookup)', () => {
    it('getJob() finds a waiting job by id, with or without its queue, with its envelope and times', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue, { payload: { n: 7 } });
      await f.driver().push([envelope]);
      for (const options of [{ queue }, {}]) {
        const info = await f.driver().getJob?.(envelope.id, options);
        expect(info).toMatchObject({
          id: envelope.id,
          queue,
          name: 'contract-job',
          state: 'waiting',
          attempts: 0,
          createdAt: envelope.createdAt,
        });
        expect(info?.envelope?.payload).toEqual({ n: 7 });
      }
      expect(await f.driver().getJob?.('no-such-job', { queue })).toBeUndefined();
      expect(await f.driver().getJob?.('no-such-job')).toBeUndefined();
    });

    it('a job due later is delayed; a reserved one is active, with its holder and lease expiry', async () => {
      const queue = f.queue();
      const later = testEnvelope(queue, { availableAt: Date.now() + 60_000 });
      const now = testEnvelope(queue);
      await f.driver().push([later, now]);
      expect(await f.driver().getJob?.(later.id, { queue })).toMatchObject({ state: 'delayed' });
      const reservation = await f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 2_000, holder: 'contract-host:42' });
      expect(reservation?.id).toBe(now.id);
      const active = await f.driver().getJob?.(now.id, { queue });
      expect(active?.state).toBe('active');
      expect(active?.lease?.holder).toBe('contract-host:42');
      expect(Math.abs((active?.lease?.expiresAt ?? 0) - (reservation as Reservation).leaseExpiresAt)).toBeLessThan(1_000);
      await f.driver().ack(reservation as Reservation);
    });

    it('a released job is waiting again with its failed run counted (and its last error, where the envelope is rewritten)', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      await f.driver().push([envelope]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      const failure = { firstFailedAt: Date.now(), lastFailedAt: Date.now(), lastError: { name: 'Error', message: 'boom once' } };
      await f.driver().release(reservation, { delayMs: 0, envelope: { ...envelope, failure } });
      const info = await f.driver().getJob?.(envelope.id, { queue });
      expect(info).toMatchObject({ state: 'waiting', attempts: 1 });
      if (caps.rewriteOnRelease) expect(info?.lastError?.message).toBe('boom once');
    });

    it('listJobs() lists a state in run order, with limit and offset; a dead letter is `failed` through lookupJob', async () => {
      const queue = f.queue();
      const first = testEnvelope(queue, { priority: 5 });
      const second = testEnvelope(queue, { priority: 5 });
      const urgent = testEnvelope(queue, { priority: 1 });
      const delayed = testEnvelope(queue, { availableAt: Date.now() + 60_000 });
      await f.driver().push([first]);
      await f.driver().push([second]);
      await f.driver().push([urgent, delayed]);
      const driver = f.driver();
      const expected = caps.priority ? [urgent.id, first.id, second.id] : [first.id, second.id, urgent.id];
      expect(ids(await (driver.listJobs as NonNullable<QueueDriver['listJobs']>)({ queue, state: 'waiting' }))).toEqual(expected);
      expect(ids(await listJobs(driver, { queue, state: 'waiting', limit: 1, offset: 1 }))).toEqual([expected[1]]);
      expect(ids(await listJobs(driver, { queue, state: 'delayed' }))).toEqual([delayed.id]);
      const reservation = await reserveOrFail(driver, [queue]);
      expect(ids(await listJobs(driver, { queue, state: 'active' }))).toEqual([reservation.id]);
      await driver.deadLetter(reservation, testFailure({ reason: 'failed' }));
      const failed = await lookupJob(driver, reservation.id);
      expect(failed).toMatchObject({ id: reservation.id, queue, state: 'failed', deadLetterReason: 'failed' });
      expect(failed?.lastError?.message).toBe('contract failure');
      expect(ids(await listJobs(driver, { queue, state: 'failed' }))).toEqual([reservation.id]);
      await expect(listJobs(driver, { queue, state: 'paused' as never })).rejects.toThrow(InvalidArgumentError);
      await expect(listJobs(driver, { queue, state: 'waiting', limit: -1 })).rejects.toThrow(/limit/);
    });

    it.skipIf(f.options.pushRaw === undefined)('a poison body can be looked up: no name, no envelope', async () => {
      const queue = f.queue();
      await f.options.pushRaw?.(f.driver(), queue, '{not json');
      const [poison] = await listJobs(f.driver(), { queue, state: 'waiting' });
      expect(poison).toMatchObject({ queue, state: 'waiting', name: undefined, envelope: undefined });
      expect(await f.driver().getJob?.((poison as JobInfo).id, { queue })).toMatchObject({ name: undefined });
    });
  });

  describe.skipIf(!caps.retention)('retention of finished jobs (capability: retention)', () => {
    it('an ack with a record keeps the completed job with its result; stats count it', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      await f.driver().push([envelope]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      await f.driver().ack(reservation, { record: completedRecord(reservation, { sent: 3, to: ['a'] }) });
      const info = await lookupJob(f.driver(), envelope.id);
      expect(info).toMatchObject({
        id: envelope.id,
        queue,
        name: 'contract-job',
        state: 'completed',
        attempts: 1,
        result: { sent: 3, to: ['a'] },
      });
      expect(info?.finishedAt).toBeGreaterThan(0);
      expect(ids(await listJobs(f.driver(), { queue, state: 'completed' }))).toEqual([envelope.id]);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, reserved: 0, completed: 1 });
      // An ack without a record keeps nothing.
      const other = testEnvelope(queue);
      await f.driver().push([other]);
      await f.driver().ack(await reserveOrFail(f.driver(), [queue]));
      expect(await f.driver().getJob?.(other.id)).toBeUndefined();
    });

    it.skipIf(!caps.batch)('ackAndClaim() keeps the records given per acknowledgement', async () => {
      const queue = f.queue();
      const envelopes = [testEnvelope(queue), testEnvelope(queue)];
      await f.driver().push(envelopes);
      const claimed = await (f.driver().claim as NonNullable<QueueDriver['claim']>)([queue], { leaseMs: 30_000, waitMs: 2_000, max: 2 });
      expect(claimed).toHaveLength(2);
      await (f.driver().ackAndClaim as NonNullable<QueueDriver['ackAndClaim']>)(claimed, [queue], {
        leaseMs: 30_000,
        max: 0,
        records: [completedRecord(claimed[0] as Reservation, 'one'), undefined],
      });
      expect(await lookupJob(f.driver(), (claimed[0] as Reservation).id)).toMatchObject({ state: 'completed', result: 'one' });
      expect(await lookupJob(f.driver(), (claimed[1] as Reservation).id)).toBeUndefined();
    });

    it('finished jobs past the count are pruned as new ones are kept, most recent listed first', async () => {
      const driver = await f.openDriver({ retention: { count: 3 } });
      const queue = f.queue();
      const envelopes = Array.from({ length: 5 }, () => testEnvelope(queue));
      for (const envelope of envelopes) {
        await driver.push([envelope]);
        const reservation = await reserveOrFail(driver, [queue]);
        await driver.ack(reservation, { record: completedRecord(reservation, envelope.id) });
      }
      const kept = envelopes.slice(2).map((e) => e.id);
      expect(ids(await listJobs(driver, { queue, state: 'completed' }))).toEqual([...kept].reverse());
      expect(await driver.getJob?.((envelopes[0] as { id: string }).id)).toBeUndefined();
      expect(await driver.stats(queue)).toMatchObject({ completed: 3 });
    });

    it('finished jobs older than the age are pruned as new ones are kept', async () => {
      const driver = await f.openDriver({ retention: { ageMs: 1_000 } });
      const queue = f.queue();
      const old = testEnvelope(queue);
      await driver.push([old]);
      const first = await reserveOrFail(driver, [queue]);
      await driver.ack(first, { record: completedRecord(first, 'old') });
      expect(await driver.getJob?.(old.id)).toMatchObject({ state: 'completed' });
      await sleep(1_300);
      const fresh = testEnvelope(queue);
      await driver.push([fresh]);
      const second = await reserveOrFail(driver, [queue]);
      await driver.ack(second, { record: completedRecord(second, 'fresh') });
      expect(await driver.getJob?.(old.id)).toBeUndefined();
      expect(await driver.getJob?.(fresh.id)).toMatchObject({ state: 'completed', result: 'fresh' });
    });

    it('retention false keeps no completed job and declares it', async () => {
      const driver = await f.openDriver({ retention: false });
      expect(driver.capabilities.retention).toBe(false);
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      await driver.push([envelope]);
      const reservation = await reserveOrFail(driver, [queue]);
      await driver.ack(reservation, { record: completedRecord(reservation, 'kept?') });
      expect(await driver.getJob?.(envelope.id)).toBeUndefined();
    });
  });

  describe.skipIf(!caps.progress)('progress (capability: progress)', () => {
    it('setProgress() stores the progress of a held job, shown by lookups; a lost lease refuses it', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      await f.driver().push([envelope]);
      const reservation = await reserveOrFail(f.driver(), [queue], 300);
      await f.driver().setProgress?.(reservation, JSON.stringify({ done: 40, of: 100 }));
      expect((await f.driver().getJob?.(envelope.id))?.progress).toEqual({ done: 40, of: 100 });
      await f.driver().setProgress?.(reservation, '75');
      expect((await f.driver().getJob?.(envelope.id, { queue }))?.progress).toBe(75);
      const other = await reserveEventually(f.driver(), [queue]);
      await expect(f.driver().setProgress?.(reservation, '99')).rejects.toThrow(LeaseLostError);
      await f.driver().ack(other);
    });
  });

  describe.skipIf(!caps.cancel)('cancel (capability: cancel)', () => {
    it('cancel() of a waiting or delayed job ends it as cancelled: it is never delivered', async () => {
      const queue = f.queue();
      const waiting = testEnvelope(queue, caps.uniqueKeys ? { uniqueKey: 'only-one' } : {});
      const delayed = testEnvelope(queue, { availableAt: Date.now() + 500 });
      await f.driver().push([waiting, delayed]);
      expect(await cancelJob(f.driver(), waiting.id)).toBe('cancelled');
      expect(await f.driver().cancel?.(delayed.id, { queue })).toBe('cancelled');
      expect(await lookupJob(f.driver(), waiting.id)).toMatchObject({ state: 'cancelled', queue, name: 'contract-job' });
      expect(await lookupJob(f.driver(), delayed.id)).toMatchObject({ state: 'cancelled' });
      expect(ids(await listJobs(f.driver(), { queue, state: 'cancelled' })).sort()).toEqual([waiting.id, delayed.id].sort());
      await sleep(700);
      expect(await f.driver().reserve([queue], { leaseMs: 1_000, waitMs: 300 })).toBeUndefined();
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
      expect(await cancelJob(f.driver(), waiting.id)).toBe('finished');
      expect(await cancelJob(f.driver(), 'no-such-job')).toBe('not-found');
      // A cancelled job no longer holds its unique key.
      if (caps.uniqueKeys) expect((await f.driver().push([testEnvelope(queue, { uniqueKey: 'only-one' })])).pushed).toHaveLength(1);
    });

    it('cancel() of an active job: its renewal fails with JobCancelledError and its settles change nothing', async () => {
      const queue = f.queue();
      const envelope = testEnvelope(queue);
      await f.driver().push([envelope]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      expect(await cancelJob(f.driver(), envelope.id)).toBe('cancelled');
      await expect(f.driver().extend(reservation, 30_000)).rejects.toThrow(JobCancelledError);
      if (f.driver().extendMany !== undefined) expect(await f.driver().extendMany?.([reservation], 30_000)).toEqual(['cancelled']);
      await f
        .driver()
        .ack(reservation)
        .catch(() => undefined);
      await f
        .driver()
        .release(reservation, { delayMs: 0 })
        .catch(() => undefined);
      expect(await lookupJob(f.driver(), envelope.id)).toMatchObject({ state: 'cancelled' });
      expect(await f.driver().reserve([queue], { leaseMs: 1_000, waitMs: 200 })).toBeUndefined();
    });

    it.skipIf(!caps.extend || caps.lease === 'none')(
      'a Worker aborts a cancelled running handler with JobCancelledError; the job stays cancelled',
      async () => {
        const queue = f.queue();
        let seen: unknown;
        const started: string[] = [];
        const job = defineJob('contract-cancellable', async (_payload: { n: number }, ctx) => {
          started.push(ctx.id);
          await new Promise<void>((resolve) =>
            ctx.signal.addEventListener('abort', () => {
              seen = ctx.signal.reason;
              resolve();
            }),
          );
          return 'should not count';
        });
        const worker = new Worker({ driver: f.driver(), jobs: [job], queues: [queue], leaseMs: 900, waitMs: 200 });
        const cancelled: string[] = [];
        worker.on('cancelled', (event) => cancelled.push(event.id));
        const running = worker.run();
        const handle = await job.create({ n: 1 }).onQueue(queue).dispatch(f.driver());
        await waitUntil(() => started.length === 1, { description: 'the handler to start' });
        expect(await cancelJob(f.driver(), handle.id)).toBe('cancelled');
        await waitUntil(() => seen !== undefined, { description: 'the handler signal to abort', timeoutMs: 5_000 });
        expect(seen).toBeInstanceOf(JobCancelledError);
        await waitUntil(() => cancelled.length === 1, { description: 'the cancelled event' });
        await worker.stop();
        await running;
        expect(await handle.state()).toBe('cancelled');
        await expect(handle.result()).rejects.toThrow(JobCancelledError);
      },
    );
  });

  describe.skipIf(!caps.pause)('pause and resume (capability: pause)', () => {
    it('a paused queue is not claimed from, still takes pushes and says so in stats; resume hands its jobs out', async () => {
      const queue = f.queue();
      const other = f.queue();
      await f.driver().pause?.(queue);
      await f.driver().pause?.(queue);
      const held = testEnvelope(queue);
      const free = testEnvelope(other);
      await f.driver().push([held, free]);
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1, paused: true });
      expect(await f.driver().stats(other)).toMatchObject({ paused: false });
      // Another driver on the backend sees the pause too; the other queue is served.
      const second = await f.openDriver();
      const taken = await second.reserve([queue, other], { leaseMs: 30_000, waitMs: 300 });
      expect(taken?.id).toBe(free.id);
      expect(await second.reserve([queue], { leaseMs: 30_000, waitMs: 300 })).toBeUndefined();
      if (second.claim !== undefined) expect(await second.claim([queue], { leaseMs: 30_000, waitMs: 0, max: 5 })).toEqual([]);
      await f.driver().resume?.(queue);
      await f.driver().resume?.(queue);
      expect(await f.driver().stats(queue)).toMatchObject({ paused: false });
      expect((await reserveOrFail(second, [queue])).id).toBe(held.id);
    });

    it('a reserve waiting on a paused queue gets its job once the queue is resumed', async () => {
      const queue = f.queue();
      await f.driver().pause?.(queue);
      const envelope = testEnvelope(queue);
      await f.driver().push([envelope]);
      const waiting = f.driver().reserve([queue], { leaseMs: 30_000, waitMs: 6_000 });
      await sleep(300);
      const other = await f.openDriver();
      await other.resume?.(queue);
      const startedAt = Date.now();
      const reservation = await waiting;
      expect(reservation?.id).toBe(envelope.id);
      expect(Date.now() - startedAt).toBeLessThan(5_000);
    });
  });

  describe.skipIf(!caps.lookup || !caps.retention)('the handle dispatch() returns (capabilities: lookup, retention)', () => {
    it('state() follows the job and result() resolves what the handler returned, or rejects with its failure', async () => {
      const queue = f.queue();
      const add = defineJob('contract-add', async (payload: { a: number; b: number; fail?: boolean }) => {
        if (payload.fail === true) throw new Error(`cannot add ${payload.a}`);
        return { sum: payload.a + payload.b };
      });
      const ok = await add.create({ a: 2, b: 3 }).onQueue(queue).dispatch(f.driver());
      const bad = await add.create({ a: 1, b: 1, fail: true }).onQueue(queue).dispatch(f.driver());
      expect(ok.pushed).toEqual([ok.id]);
      expect(await ok.state()).toBe('waiting');
      const worker = new Worker({ driver: f.driver(), jobs: [add], queues: [queue], waitMs: 200 });
      const running = worker.run();
      try {
        const result: { sum: number } = await ok.result({ timeoutMs: 10_000 });
        expect(result).toEqual({ sum: 5 });
        expect(await ok.state()).toBe('completed');
        const failure = await bad.result({ timeoutMs: 10_000 }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toBeInstanceOf(JobFailedError);
        expect((failure as JobFailedError).error.message).toBe('cannot add 1');
      } finally {
        await worker.stop();
        await running;
      }
    });

    it.skipIf(f.options.childDriverModule === undefined)(
      'result() waits across processes: dispatched here, run by a worker process',
      async () => {
        const queue = f.queue();
        const producer = defineJob(
          CRASH_JOB_NAME,
          async (_payload: { n: number; fail?: string }) => ({}) as { echo: { n: number }; pid: number },
        );
        const done = await producer.create({ n: 41 }).onQueue(queue).dispatch(f.driver());
        const fails = await producer.create({ n: 0, fail: 'refused in the child' }).onQueue(queue).dispatch(f.driver());
        const child = spawnCrashChild(f.options.childDriverModule as string, queue, { mode: 'echo', waitMs: 200 });
        try {
          const result = await done.result({ timeoutMs: 20_000 });
          expect(result.echo).toEqual({ n: 41 });
          expect(result.pid).toBe(child.process.pid);
          await expect(fails.result({ timeoutMs: 20_000 })).rejects.toThrow(/refused in the child/);
        } finally {
          child.process.kill('SIGKILL');
          await child.exited;
        }
      },
    );

    it('result() gives up after timeoutMs with a WaitTimeoutError, and on abort', async () => {
      const queue = f.queue();
      const job = defineJob('contract-never-run', async () => 1);
      const handle = await job.create({}).onQueue(queue).dispatch(f.driver());
      await expect(handle.result({ timeoutMs: 150 })).rejects.toMatchObject({ code: 'WAIT_TIMEOUT' });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('gave up')), 100);
      await expect(handle.result({ signal: controller.signal })).rejects.toThrow('gave up');
    });
  });
}
