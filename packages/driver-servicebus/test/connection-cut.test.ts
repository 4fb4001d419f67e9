import { createEnvelope, defineJob, type QueueError, type Reservation, Worker } from '@queuekit/core';
import { CuttingProxy, sleep, waitUntil } from '@queuekit/driver-contract';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceBusDriver } from '../src/index.js';
import { useTestBroker } from './broker.js';

const LOCK_MS = 2_000;

/** The connection string of the test broker reached through `proxy`. */
function throughProxyConnectionString(proxy: CuttingProxy): string {
  return `Endpoint=sb://127.0.0.1:${proxy.port};SharedAccessKeyName=x;SharedAccessKey=y;UseDevelopmentEmulator=true`;
}

describe('servicebus driver: lock renewals while the connection is cut', () => {
  const scope = useTestBroker(LOCK_MS);
  let proxy: CuttingProxy;
  const errors: QueueError[] = [];
  const throughProxy = () =>
    scope.track(
      createServiceBusDriver({ connectionString: throughProxyConnectionString(proxy), onBackgroundError: (error) => errors.push(error) }),
    );
  const direct = () => scope.open();

  afterEach(async () => {
    proxy.up();
    await scope.closeAll();
    await proxy.close();
  });

  it('extend() answers LeaseLostError once the lock runs out unrenewed, and the broker hands the job out again', {
    timeout: 30_000,
  }, async () => {
    proxy = await CuttingProxy.start(scope.broker.port);
    const queue = `cut-extend-${Date.now()}`;
    const holder = throughProxy();
    const envelope = createEnvelope({ name: 'job', queue, payload: {} });
    await holder.push([envelope]);
    const reservation = (await holder.reserve([queue], { leaseMs: LOCK_MS, waitMs: 5_000 })) as Reservation;
    expect(reservation).toMatchObject({ id: envelope.id });
    // A renewal that succeeds: the lock now reaches past the lease asked for, so nothing renews in
    // the background; only the worker's own extends could find out that the lock is going.
    expect(await holder.extend(reservation, LOCK_MS)).toBeGreaterThan(Date.now());
    proxy.down();
    // As a worker's heartbeat would: extend again and again while the connection stays cut.
    const outcomes: string[] = [];
    const answer = await waitUntil(
      async () => {
        const outcome = await holder.extend(reservation, LOCK_MS).then(
          () => 'extended',
          (error: QueueError) => error.code,
        );
        outcomes.push(outcome);
        if (outcome !== 'LEASE_LOST') await sleep(LOCK_MS / 4);
        return outcome === 'LEASE_LOST' ? outcome : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(answer).toBe('LEASE_LOST');
    // Nothing claimed the lease held while the connection was down.
    expect(outcomes).not.toContain('extended');
    proxy.up();
    const next = await waitUntil(() => direct().reserve([queue], { leaseMs: 30_000, waitMs: 1_000 }), { timeoutMs: 15_000 });
    expect(next).toMatchObject({ id: envelope.id, lostDeliveries: 1 });
    await expect(holder.ack(reservation)).rejects.toMatchObject({ code: 'LEASE_LOST' });
  });

  it('a Worker whose connection stays cut aborts the running job with LeaseLostError', { timeout: 30_000 }, async () => {
    proxy = await CuttingProxy.start(scope.broker.port);
    const queue = `cut-worker-${Date.now()}`;
    const driver = throughProxy();
    let started = false;
    let abortedWith: unknown;
    const job = defineJob('long', async (_payload: {}, ctx) => {
      started = true;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      abortedWith = ctx.signal.reason;
    });
    await job.create({}).onQueue(queue).dispatch(driver);
    const worker = new Worker({ driver, jobs: [job], queues: [queue], leaseMs: LOCK_MS, waitMs: 1_000, shutdownGraceMs: 0 });
    worker.on('error', () => {});
    const running = worker.run();
    try {
      await waitUntil(async () => started || undefined, { timeoutMs: 10_000 });
      // Let the heartbeat renew the lock a few times first (each renewal reaches past its lease).
      await sleep(LOCK_MS);
      expect(abortedWith).toBeUndefined();
      proxy.down();
      await waitUntil(async () => abortedWith ?? undefined, { timeoutMs: 20_000 });
      expect(abortedWith).toMatchObject({ name: 'LeaseLostError' });
    } finally {
      proxy.up();
      await worker.stop({ graceMs: 0 });
      await running;
    }
  });
});
