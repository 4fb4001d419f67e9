import { ServiceBusClient } from '@azure/service-bus';
import type { QueueDriver } from '@queuekit/core';
import { startTestBroker, type TestBroker } from '@queuekit/servicebus-test-broker';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createServiceBusDriver, type ServiceBusDriverOptions } from '../src/index.js';

/** The environment variable that hands the test broker's connection string to crash-test child processes. */
export const CONNECTION_STRING_ENV = 'QK_SERVICEBUS_TEST_CONNECTION_STRING';

/**
 * Lock duration of the test broker's queues, in ms: leases shorter than it last it, longer ones are
 * held by renewals; 2 s leaves a live worker's renewals a second of slack on a loaded machine.
 */
export const TEST_LOCK_DURATION_MS = 2_000;

/** Starts a test broker on a free loopback port and publishes its connection string for child processes. */
export async function startBrokerForTests(): Promise<TestBroker> {
  const broker = await startTestBroker({ lockDurationMs: TEST_LOCK_DURATION_MS, maxDeliveryCount: 100 });
  process.env[CONNECTION_STRING_ENV] = broker.connectionString;
  return broker;
}

/** Sends `raw` to `queue` as a message body the driver cannot decode (the poison tests). */
export async function pushRaw(connectionString: string, queue: string, raw: string): Promise<void> {
  const client = new ServiceBusClient(connectionString);
  try {
    await client.createSender(queue).sendMessages({ body: Buffer.from(raw, 'utf8'), messageId: `raw-${Date.now()}` });
  } finally {
    await client.close();
  }
}

/** The contract suite's `pushRaw` option for a broker: the driver argument is not needed. */
export function rawPusher(connectionString: string): (driver: QueueDriver, queue: string, raw: string) => Promise<void> {
  return (_driver, queue, raw) => pushRaw(connectionString, queue, raw);
}

/** What {@link useTestBroker} gives the tests of its describe block. */
export interface TestBrokerScope {
  /** The running broker (after the block's beforeAll). */
  readonly broker: TestBroker;
  /** Closes with the test: a driver, or a client a test made its own driver from. */
  track<T extends { close(): Promise<void> }>(closeable: T): T;
  /** A driver on the broker's connection string (more options merged in), closed with the test. */
  open(options?: Partial<ServiceBusDriverOptions>): QueueDriver;
  /** Closes what the test opened, newest first (an afterEach does it too; a test's own teardown may need it sooner). */
  closeAll(): Promise<void>;
}

/**
 * A test broker of its own for the enclosing describe block, with a short lock so tests see locks
 * run out: started before its tests, stopped after them, and what each test opened closed after it.
 */
export function useTestBroker(lockDurationMs: number): TestBrokerScope {
  let broker: TestBroker | undefined;
  const opened: { close(): Promise<void> }[] = [];
  // Newest first: a driver made from a client a test opened closes before that client. Calls queue
  // behind each other, so a test's own teardown and the afterEach both wait for the same closing.
  let closing = Promise.resolve();
  const closeAll = (): Promise<void> => {
    closing = closing.then(async () => {
      for (const closeable of opened.splice(0).reverse()) await closeable.close();
    });
    return closing;
  };
  beforeAll(async () => {
    broker = await startTestBroker({ lockDurationMs, maxDeliveryCount: 100 });
  });
  afterEach(closeAll);
  afterAll(() => broker?.close());
  const scope: TestBrokerScope = {
    get broker() {
      if (broker === undefined) throw new Error("useTestBroker: the broker starts in the describe block's beforeAll");
      return broker;
    },
    track(closeable) {
      opened.push(closeable);
      return closeable;
    },
    open(options = {}) {
      return scope.track(
        createServiceBusDriver({ connectionString: scope.broker.connectionString, ...options } as ServiceBusDriverOptions),
      );
    },
    closeAll,
  };
  return scope;
}
