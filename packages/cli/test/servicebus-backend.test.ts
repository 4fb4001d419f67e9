import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { backendDefinition } from '../src/config/backends.js';

// Resolved from this file, where the workspace installs @queuekit/driver-servicebus.
const ctx = {
  file: fileURLToPath(import.meta.url),
  label: 'queue.config.mjs',
  dir: '/app',
  key: 'connections.main',
  loadJobs: async () => [],
};
const CONNECTION_STRING = 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=s;UseDevelopmentEmulator=true';

describe("a connection with driver: 'servicebus'", () => {
  it('creates the Service Bus driver from connectionString, passing the other keys to it', async () => {
    const definition = backendDefinition({ driver: 'servicebus', connectionString: CONNECTION_STRING, maxMessageBytes: 1_000 }, ctx);
    expect(definition.driver).toBe('servicebus');
    const driver = await definition.create();
    try {
      expect(driver.name).toBe('servicebus');
      expect(driver.capabilities).toMatchObject({ delay: 'native', deadLetter: 'native', maxMessageBytes: 1_000 });
    } finally {
      await driver.close();
    }
  });

  it("passes the connection's queues to the driver (migrate creates them, dlq searches them)", async () => {
    const definition = backendDefinition({ driver: 'servicebus', connectionString: CONNECTION_STRING, queues: ['mail', 'bad name'] }, ctx);
    await expect(Promise.resolve().then(() => definition.create())).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/servicebus: queues: "bad name" is not a valid queue name/),
    });
  });

  it('takes the connection string from url (QUEUE_<NAME>_URL) too', async () => {
    const driver = await backendDefinition({ driver: 'servicebus', url: CONNECTION_STRING }, ctx).create();
    expect(driver.name).toBe('servicebus');
    await driver.close();
  });

  it("passes a malformed connection string on to the driver's ConfigError", async () => {
    const definition = backendDefinition({ driver: 'servicebus', connectionString: 'Endpoint=sb://ns;SharedAccessKeyName=k' }, ctx);
    await expect(definition.create()).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/^servicebus: connectionString:/),
    });
  });
});
