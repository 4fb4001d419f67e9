import { fileURLToPath } from 'node:url';
import { describeDriverContract } from '@queuekit/driver-contract';
import { afterAll } from 'vitest';
import { createServiceBusDriver } from '../src/index.js';
import { rawPusher, startBrokerForTests } from './broker.js';

// One test broker for the file, like one namespace; each test gets a fresh driver and random
// queues (the broker creates a queue on first use). Crash-test child processes find the broker in
// the environment they inherit.
const broker = await startBrokerForTests();
afterAll(() => broker.close());

describeDriverContract({
  name: 'servicebus',
  createDriver: () => createServiceBusDriver({ connectionString: broker.connectionString }),
  childDriverModule: fileURLToPath(new URL('./fixtures/child-driver.ts', import.meta.url)),
  pushRaw: rawPusher(broker.connectionString),
});
