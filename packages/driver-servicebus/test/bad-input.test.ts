import { createEnvelope, type QueueDriver } from '@queuekit/core';
import { startTestBroker, type TestBroker } from '@queuekit/servicebus-test-broker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServiceBusDriver } from '../src/index.js';
import { wrapServiceBusError } from '../src/servicebus-errors.js';

describe('servicebus driver: bad input', () => {
  describe('a malformed connection string', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['not key=value pairs', 'nonsense', /connectionString: not a Service Bus connection string/],
      ['an empty string', '', /connectionString: expected a non-empty string/],
      [
        'an endpoint that is not sb://',
        'Endpoint=https://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s',
        /Endpoint must be sb:\/\/<host>, got "https:\/\/ns/,
      ],
      ['a key name without its key', 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k', /should have SharedAccessKey/],
      ['no credentials at all', 'Endpoint=sb://ns.servicebus.windows.net/', /SharedAccessKey \(or SharedAccessSignature\) is missing/],
    ];
    for (const [what, connectionString, message] of cases) {
      it(`is refused at creation with a ConfigError naming connectionString: ${what}`, () => {
        expect(() => createServiceBusDriver({ connectionString })).toThrow(message);
        expect(() => createServiceBusDriver({ connectionString })).toThrow(
          expect.objectContaining({ name: 'ConfigError', code: 'CONFIG_INVALID' }),
        );
      });
    }

    it('never echoes the shared access key in the error', () => {
      let text = '';
      try {
        createServiceBusDriver({ connectionString: 'Endpoint=ftp://ns/;SharedAccessKeyName=k;SharedAccessKey=TOP-SECRET' });
      } catch (error) {
        text = (error as Error).message;
      }
      expect(text).toMatch(/Endpoint must be sb:/);
      expect(text).not.toContain('TOP-SECRET');
    });

    it('is required unless a client is given', () => {
      expect(() => createServiceBusDriver({})).toThrow(/connectionString: required/);
    });
  });

  describe('against a broker that does not create queues', () => {
    let broker: TestBroker;
    let driver: QueueDriver;

    beforeAll(async () => {
      broker = await startTestBroker({ autoCreateQueues: false, queues: { present: {} } });
    });
    afterAll(() => broker.close());
    afterEach(() => driver?.close());

    it('a push to a missing queue fails with a DriverError naming the queue', async () => {
      driver = createServiceBusDriver({ connectionString: broker.connectionString });
      await expect(driver.push([createEnvelope({ name: 'job', queue: 'absent', payload: {} })])).rejects.toMatchObject({
        name: 'DriverError',
        message: expect.stringMatching(/push to queue absent failed: queue 'absent' does not exist in the namespace/),
        cause: expect.objectContaining({ code: 'MessagingEntityNotFound' }),
      });
    });

    it('a reserve and stats of a missing queue fail the same way', async () => {
      driver = createServiceBusDriver({ connectionString: broker.connectionString });
      await expect(driver.reserve(['absent'], { leaseMs: 1_000, waitMs: 0 })).rejects.toThrow(/queue 'absent' does not exist/);
      await expect(driver.stats('absent')).rejects.toThrow(/queue 'absent' does not exist/);
    });

    it('an envelope above maxMessageBytes is refused before sending, naming its size and the limit, and nothing is stored', async () => {
      driver = createServiceBusDriver({ connectionString: broker.connectionString });
      const small = createEnvelope({ name: 'job', queue: 'present', payload: {} });
      const big = createEnvelope({ name: 'job', queue: 'present', payload: { blob: 'x'.repeat(300 * 1024) } });
      await expect(Promise.resolve().then(() => driver.push([small, big]))).rejects.toMatchObject({
        name: 'PayloadTooLargeError',
        message: expect.stringMatching(new RegExp(`job ${big.id} is \\d+ bytes, above maxMessageBytes 258048`)),
      });
      expect(await driver.stats('present')).toMatchObject({ ready: 0, delayed: 0 });
    });

    it('with maxMessageBytes raised past the namespace limit, Service Bus refusing the message is a PayloadTooLargeError too', async () => {
      driver = createServiceBusDriver({ connectionString: broker.connectionString, maxMessageBytes: 1024 * 1024 });
      const big = createEnvelope({ name: 'job', queue: 'present', payload: { blob: 'x'.repeat(300 * 1024) } });
      await expect(driver.push([big])).rejects.toMatchObject({
        name: 'PayloadTooLargeError',
        message: expect.stringMatching(/does not fit/),
      });
      const delayed = { ...big, availableAt: Date.now() + 60_000 };
      await expect(driver.push([delayed])).rejects.toMatchObject({
        name: 'PayloadTooLargeError',
        message: expect.stringMatching(/larger than the namespace accepts/),
      });
      expect(await driver.stats('present')).toMatchObject({ ready: 0, delayed: 0 });
    });
  });
});

describe('servicebus driver: errors that carry no message', () => {
  it('name what they do carry (name, AMQP condition, description) instead of ending in nothing', () => {
    const bare = Object.assign(new Error(''), { name: 'AmqpError', condition: 'amqp:internal-error', description: 'link detached' });
    expect(wrapServiceBusError(bare, 'ack').message).toBe('servicebus: ack failed: AmqpError: amqp:internal-error, link detached');
    expect(wrapServiceBusError(new Error(''), 'ack').message).toBe('servicebus: ack failed: Error with no message');
    expect(wrapServiceBusError({}, 'ack').message).toBe('servicebus: ack failed: an object with no detail');
    expect(wrapServiceBusError(new Error('boom'), 'ack').message).toBe('servicebus: ack failed: boom');
  });
});
