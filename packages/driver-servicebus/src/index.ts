export { createServiceBusDriver, ServiceBusDriver } from './servicebus-driver.js';
export { DEFAULT_MAX_MESSAGE_BYTES, type ServiceBusDriverOptions } from './servicebus-options.js';
