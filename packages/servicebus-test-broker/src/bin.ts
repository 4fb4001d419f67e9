#!/usr/bin/env node
/**
 * `servicebus-test-broker`: runs the test broker until SIGINT or SIGTERM and prints the
 * connection string to give any `@azure/service-bus` application.
 *
 *   servicebus-test-broker [--port 5672] [--host 127.0.0.1] [--lock-duration-ms 60000]
 *     [--max-delivery-count 10] [--queue NAME]... [--no-auto-create]
 */
import { parseArgs } from 'node:util';
import { startTestBroker } from './test-broker.js';

const usage =
  'usage: servicebus-test-broker [--port N] [--host ADDRESS] [--lock-duration-ms MS] [--max-delivery-count N] [--queue NAME]... [--no-auto-create]';

/** A positive integer option, or exit with the usage naming the option. */
function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`servicebus-test-broker: --${name} must be an integer >= ${min}, got ${JSON.stringify(value)}\n${usage}\n`);
    process.exit(2);
  }
  return n;
}

let values: Record<string, string | string[] | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'lock-duration-ms': { type: 'string' },
      'max-delivery-count': { type: 'string' },
      queue: { type: 'string', multiple: true },
      'no-auto-create': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  }));
} catch (error) {
  process.stderr.write(`servicebus-test-broker: ${(error as Error).message}\n${usage}\n`);
  process.exit(2);
}
if (values.help === true) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const port = integer('port', values.port as string | undefined, 0);
const lockDurationMs = integer('lock-duration-ms', values['lock-duration-ms'] as string | undefined, 1);
const maxDeliveryCount = integer('max-delivery-count', values['max-delivery-count'] as string | undefined, 1);
const broker = await startTestBroker({
  port: port ?? 5672,
  ...(typeof values.host === 'string' ? { host: values.host } : {}),
  ...(lockDurationMs === undefined ? {} : { lockDurationMs }),
  ...(maxDeliveryCount === undefined ? {} : { maxDeliveryCount }),
  queues: Object.fromEntries(((values.queue as string[] | undefined) ?? []).map((name) => [name, {}])),
  autoCreateQueues: values['no-auto-create'] !== true,
});
process.stdout.write(`servicebus-test-broker listening on ${broker.host}:${broker.port}\n${broker.connectionString}\n`);

const stop = (): void => {
  void broker.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
