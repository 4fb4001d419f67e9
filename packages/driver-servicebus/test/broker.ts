import { ServiceBusClient } from '@azure/service-bus';
import type { QueueDriver } from '@queuekit/core';
import { startTestBroker, type TestBroker } from '@queuekit/servicebus-test-broker';

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
