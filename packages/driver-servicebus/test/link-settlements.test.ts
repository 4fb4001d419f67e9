import { createEnvelope, type JobFailure, type QueueDriver, type Reservation } from '@queuekit/core';
import { CuttingProxy, waitUntil } from '@queuekit/driver-contract';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceBusDriver } from '../src/index.js';
import { pushRaw, useTestBroker } from './broker.js';

const LOCK_MS = 10_000;

function poisonFailure(reservation: Reservation): JobFailure {
  const now = Date.now();
  return {
    reason: 'poison',
    error: { name: 'SyntaxError', message: reservation.poison?.error.message ?? 'not a poison body' },
    attempts: 0,
    firstFailedAt: now,
    failedAt: now,
  };
}

/** Reserves one job of `queue`, failing the test when none comes. */
async function reserveOne(driver: QueueDriver, queue: string): Promise<Reservation> {
  const reservation = await driver.reserve([queue], { leaseMs: LOCK_MS, waitMs: 5_000 });
  if (reservation === undefined) throw new Error(`nothing to reserve in ${queue}`);
  return reservation;
}

describe('servicebus driver: settlements of deliveries that share a link', () => {
  const scope = useTestBroker(LOCK_MS);

  // Reserves made one after another borrow the same receiver, so both deliveries come over one
  // link, with adjacent delivery ids: settled at once, their dispositions are due together.
  for (const order of ['job first', 'poison first'] as const) {
    it(`an ack and a dead-letter made at once each keep their own outcome (${order} on the link)`, async () => {
      const queue = `shared-link-${order.replace(' ', '-')}-${Date.now()}`;
      const driver = scope.open();
      const envelope = createEnvelope({ name: 'job', queue, payload: {} });
      const raw = `poison-body-${Date.now()}`;
      if (order === 'job first') {
        await driver.push([envelope]);
        await pushRaw(scope.broker.connectionString, queue, raw);
      } else {
        await pushRaw(scope.broker.connectionString, queue, raw);
        await driver.push([envelope]);
      }
      const first = await reserveOne(driver, queue);
      const second = await reserveOne(driver, queue);
      const [job, poison] = first.poison === undefined ? [first, second] : [second, first];
      expect(job.id).toBe(envelope.id);
      expect(poison.poison?.raw).toBe(raw);

      // Settled in delivery order: rhea merges a range only from its lowest delivery id up.
      const settle = (reservation: Reservation) =>
        reservation === job ? driver.ack(job) : driver.deadLetter(poison, poisonFailure(poison));
      await Promise.all([settle(first), settle(second)]);

      const dead = await driver.deadLetters.list({ queue });
      expect(dead.map((entry) => ({ raw: entry.raw, reason: entry.reason }))).toEqual([{ raw, reason: 'poison' }]);
      expect(await driver.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 1 });
    });
  }

  it('acks made at once go out together and complete each their own job; a dead-letter between them keeps its outcome', async () => {
    const queue = `shared-link-acks-${Date.now()}`;
    const driver = scope.open();
    const envelopes = Array.from({ length: 4 }, (_, i) => createEnvelope({ name: 'job', queue, payload: { i } }));
    const raw = `poison-body-${Date.now()}`;
    await driver.push(envelopes.slice(0, 2));
    await pushRaw(scope.broker.connectionString, queue, raw);
    await driver.push(envelopes.slice(2));
    const reserved: Reservation[] = [];
    for (let i = 0; i < 5; i += 1) reserved.push(await reserveOne(driver, queue));
    const poison = reserved.find((reservation) => reservation.poison !== undefined);
    expect(poison?.poison?.raw).toBe(raw);

    await Promise.all(
      reserved.map((reservation) =>
        reservation === poison ? driver.deadLetter(reservation, poisonFailure(reservation)) : driver.ack(reservation),
      ),
    );

    expect((await driver.deadLetters.list({ queue })).map((entry) => ({ raw: entry.raw, reason: entry.reason }))).toEqual([
      { raw, reason: 'poison' },
    ]);
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 1 });
  });

  it('a release and a dead-letter made at once each keep their own outcome', async () => {
    const queue = `shared-link-release-${Date.now()}`;
    const driver = scope.open();
    const envelope = createEnvelope({ name: 'job', queue, payload: {} });
    const raw = `poison-body-${Date.now()}`;
    await pushRaw(scope.broker.connectionString, queue, raw);
    await driver.push([envelope]);
    const poison = await reserveOne(driver, queue);
    const job = await reserveOne(driver, queue);
    expect(poison.poison?.raw).toBe(raw);

    await Promise.all([driver.deadLetter(poison, poisonFailure(poison)), driver.release(job, { delayMs: 0 })]);

    expect((await driver.deadLetters.list({ queue })).map((entry) => entry.raw)).toEqual([raw]);
    const again = await reserveOne(driver, queue);
    // The release counted a failed run, and no lost delivery.
    expect(again).toMatchObject({ id: envelope.id, attempt: 2, lostDeliveries: 0 });
    await driver.ack(again);
  });
});

describe('servicebus driver: settling a delivery whose link went down', () => {
  const scope = useTestBroker(LOCK_MS);
  let proxy: CuttingProxy | undefined;

  afterEach(async () => {
    await scope.closeAll();
    await proxy?.close();
  });

  it('dead-letters by lock token a delivery received before a connection cut, after the receiver attached again', {
    timeout: 30_000,
  }, async () => {
    proxy = await CuttingProxy.start(scope.broker.port);
    const queue = `dead-link-${Date.now()}`;
    const driver = scope.track(
      createServiceBusDriver({
        connectionString: `Endpoint=sb://127.0.0.1:${proxy.port};SharedAccessKeyName=x;SharedAccessKey=y;UseDevelopmentEmulator=true`,
      }),
    );
    const raw = `poison-body-${Date.now()}`;
    await pushRaw(scope.broker.connectionString, queue, raw);
    const envelope = createEnvelope({ name: 'job', queue, payload: {} });
    await driver.push([envelope]);
    const poison = await reserveOne(driver, queue);
    expect(poison.poison?.raw).toBe(raw);
    proxy.cut();
    // The next reserve borrows the same receiver, which attaches a new link under the old name (a
    // reserve that meets the connection going down fails; the worker's next one goes on).
    const job = await waitUntil(() => driver.reserve([queue], { leaseMs: LOCK_MS, waitMs: 1_000 }).catch(() => undefined), {
      timeoutMs: 15_000,
    });
    expect(job.id).toBe(envelope.id);

    const started = Date.now();
    await driver.deadLetter(poison, poisonFailure(poison));
    await driver.ack(job);
    // Sent over the old link, the dead-letter would wait for the SDK's settlement timeout (60 s).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await driver.deadLetters.list({ queue })).map((entry) => ({ raw: entry.raw, reason: entry.reason }))).toEqual([
      { raw, reason: 'poison' },
    ]);
    expect(await driver.stats(queue)).toMatchObject({ ready: 0, delayed: 0, reserved: 0, dead: 1 });
  });
});
