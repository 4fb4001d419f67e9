import { ServiceBusClient, type ServiceBusReceiver, type ServiceBusSender } from '@azure/service-bus';
import { createEnvelope, type QueueDriver, type Reservation } from '@queuekit/core';
import { sleep, waitUntil } from '@queuekit/driver-contract';
import { describe, expect, it } from 'vitest';
import { createServiceBusDriver } from '../src/index.js';
import { useTestBroker } from './broker.js';

const LOCK_MS = 1_000;

/** Takes what `reserve` hands out over `ms`, failing the test if anything comes. */
async function expectNothingFor(driver: QueueDriver, queue: string, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const got = await driver.reserve([queue], { leaseMs: 30_000, waitMs: Math.min(250, Math.max(0, until - Date.now())) });
    expect(got, `${what}: ${got?.id} handed out ${until - Date.now()} ms before the end`).toBeUndefined();
  }
}

// A delayed release keeps one deliverable message per job (the job's message is deferred, a
// pointer brings it back): a release interrupted between its steps must not leave two.
describe('servicebus driver: delayed release', () => {
  const scope = useTestBroker(LOCK_MS);
  const { open } = scope;
  /** A driver whose next `scheduleMessages` answers only after `pauseMs`: a worker paused between the release's steps. */
  const openPausing = (pauseMs: number) => {
    const client = scope.track(new ServiceBusClient(scope.broker.connectionString));
    let armed = true;
    const createSender = client.createSender.bind(client);
    client.createSender = (queue: string) => {
      const sender = createSender(queue);
      const schedule = sender.scheduleMessages.bind(sender);
      sender.scheduleMessages = (async (...args: Parameters<ServiceBusSender['scheduleMessages']>) => {
        const result = await schedule(...args);
        if (armed) {
          armed = false;
          await sleep(pauseMs);
        }
        return result;
      }) as ServiceBusSender['scheduleMessages'];
      return sender;
    };
    return scope.track(createServiceBusDriver({ client }));
  };

  /** A driver whose next `deferMessage` is applied by the broker but answered with a failure (an answer lost on a cut connection). */
  const openLosingDeferAnswer = () => {
    const client = scope.track(new ServiceBusClient(scope.broker.connectionString));
    let armed = true;
    const createReceiver = client.createReceiver.bind(client) as (queue: string, options?: object) => ServiceBusReceiver;
    client.createReceiver = ((queue: string, options?: object) => {
      const receiver = createReceiver(queue, options);
      const defer = receiver.deferMessage.bind(receiver);
      receiver.deferMessage = async (...args: Parameters<ServiceBusReceiver['deferMessage']>) => {
        await defer(...args);
        if (armed) {
          armed = false;
          throw Object.assign(new Error('the connection was cut before the answer came'), { code: 'ECONNRESET' });
        }
      };
      return receiver;
    }) as ServiceBusClient['createReceiver'];
    return scope.track(createServiceBusDriver({ client }));
  };

  it('a release whose lock runs out between its steps leaves one deliverable message: the redelivery, never a second copy', async () => {
    const queue = 'interrupted-release';
    const paused = openPausing(LOCK_MS + 2_500);
    const [second, third] = [open(), open()];
    const envelope = createEnvelope({ name: 'job', queue, payload: {} });
    await paused.push([envelope]);
    const first = (await paused.reserve([queue], { leaseMs: 500, waitMs: 2_000 }))!;
    const releasing = paused.release(first, { delayMs: 200, envelope: { ...envelope, payload: { released: true } } });
    releasing.catch(() => undefined);
    // The lock runs out while the release is stalled: the broker hands the message out again.
    const redelivered = await waitUntil(() => second.reserve([queue], { leaseMs: 10_000, waitMs: 250 }), { timeoutMs: LOCK_MS + 2_000 });
    expect(redelivered).toMatchObject({ id: envelope.id, attempt: 1, lostDeliveries: 1, envelope: { payload: {} } });
    // The release's due time and its lock's end pass: nothing else of the job may be handed out.
    await expectNothingFor(third, queue, 2_000, 'while the redelivery holds the job');
    await expect(releasing).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await second.ack(redelivered);
    await expectNothingFor(third, queue, 1_500, 'after the job was acknowledged');
    expect(await third.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
  }, 20_000);

  it('a delayed release brings the same message back when due, with the released envelope and counts; a holder that dies loses it once', async () => {
    const queue = 'deferred-release';
    const [worker, other] = [open(), open()];
    const envelope = createEnvelope({ name: 'job', queue, payload: { n: 1 } });
    await worker.push([envelope]);
    const first = (await worker.reserve([queue], { leaseMs: 500, waitMs: 2_000 }))!;
    const releasedAt = Date.now();
    await worker.release(first, { delayMs: 400, envelope: { ...envelope, payload: { n: 2 } } });
    expect(await other.stats(queue)).toMatchObject({ ready: 0, delayed: 1, reserved: 0 });
    const again = await waitUntil(() => other.reserve([queue], { leaseMs: 300, waitMs: 250 }), { timeoutMs: 5_000 });
    expect(Date.now() - releasedAt).toBeGreaterThanOrEqual(350);
    expect(again).toMatchObject({ id: envelope.id, attempt: 2, lostDeliveries: 0, envelope: { payload: { n: 2 } } });
    expect(await worker.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 1 });
    // Its holder goes quiet (no extend, no settle): once the lock runs out the job comes back, once.
    const taken = await waitUntil(() => worker.reserve([queue], { leaseMs: 10_000, waitMs: 250 }), { timeoutMs: 3 * LOCK_MS + 3_000 });
    expect(taken).toMatchObject({ id: envelope.id, attempt: 2, lostDeliveries: 1, envelope: { payload: { n: 2 } } });
    await expect(other.ack(again)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expectNothingFor(other, queue, 1_500, 'while the job is held again');
    await worker.ack(taken);
    await expectNothingFor(other, queue, 1_000, 'after the job was acknowledged');
    expect(await other.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
  }, 20_000);

  it('a job released again, given back and dead-lettered from a deferred delivery keeps its counts, and stale pointers deliver nothing', async () => {
    const queue = 'released-twice';
    const [worker, other] = [open(), open()];
    const envelope = createEnvelope({ name: 'job', queue, payload: {} });
    await worker.push([envelope]);
    const reserve = () => waitUntil(() => worker.reserve([queue], { leaseMs: 5_000, waitMs: 250 }), { timeoutMs: 5_000 });
    let reservation: Reservation = await reserve();
    await worker.release(reservation, { delayMs: 0, envelope });
    reservation = await reserve();
    expect(reservation).toMatchObject({ attempt: 2, lostDeliveries: 0 });
    await worker.release(reservation, { delayMs: 100, envelope });
    reservation = await reserve();
    expect(reservation).toMatchObject({ attempt: 3, lostDeliveries: 0 });
    expect(await worker.giveBack([reservation])).toBe(1);
    reservation = await reserve();
    expect(reservation).toMatchObject({ attempt: 3, lostDeliveries: 0 });
    await worker.release(reservation, { delayMs: 0 });
    reservation = await reserve();
    expect(reservation).toMatchObject({ attempt: 4, lostDeliveries: 0 });
    const now = Date.now();
    await worker.deadLetter(reservation, {
      reason: 'failed',
      error: { name: 'Error', message: 'no' },
      attempts: 4,
      firstFailedAt: now,
      failedAt: now,
    });
    await expectNothingFor(other, queue, 1_000, 'after the job was dead-lettered');
    expect(await other.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 1 });
    expect(await other.deadLetters.list({ queue })).toMatchObject([{ id: envelope.id, reason: 'failed', attempts: 4 }]);
  }, 20_000);

  it('a defer whose answer was lost leaves its pointer: the deferred job comes back once its lock has run out', async () => {
    const queue = 'defer-answer-lost';
    const [worker, other] = [openLosingDeferAnswer(), open()];
    const envelope = createEnvelope({ name: 'job', queue, payload: {} });
    await worker.push([envelope]);
    const first = (await worker.reserve([queue], { leaseMs: 500, waitMs: 2_000 }))!;
    const releasedAt = Date.now();
    await expect(worker.release(first, { delayMs: 0, envelope: { ...envelope, payload: { n: 2 } } })).rejects.toMatchObject({
      code: 'DRIVER_CONNECTION',
    });
    expect(await other.stats(queue)).toMatchObject({ ready: 0, delayed: 1, reserved: 0 });
    const again = await waitUntil(() => other.reserve([queue], { leaseMs: 5_000, waitMs: 250 }), { timeoutMs: LOCK_MS + 5_000 });
    // The pointer falls due no sooner than the lock's end (plus the fence margin).
    expect(Date.now() - releasedAt).toBeGreaterThanOrEqual(LOCK_MS - 100);
    expect(again).toMatchObject({ id: envelope.id, attempt: 2, lostDeliveries: 0, envelope: { payload: { n: 2 } } });
    await other.ack(again);
    await expectNothingFor(other, queue, 1_000, 'after the job was acknowledged');
    expect(await other.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0 });
  }, 20_000);
});
