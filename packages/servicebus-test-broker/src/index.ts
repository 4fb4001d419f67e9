export type { QueueSettings } from './broker-entity.js';
export { startTestBroker, type TestBroker, type TestBrokerOptions } from './test-broker.js';
