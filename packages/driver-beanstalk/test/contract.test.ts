import { fileURLToPath } from 'node:url';
import { describeDriverContract } from '@queuekit/driver-contract';
import { BeanstalkClient, createBeanstalkDriver } from '../src/index.js';
import { BEANSTALK_URL, randomTubePrefix } from './helpers.js';

// One tube prefix for the file; each test gets a fresh driver and random queues. The crash tests'
// child processes find the prefix in the environment they inherit. Every option at its default.
const tubePrefix = randomTubePrefix();
process.env.QK_BEANSTALK_TEST_PREFIX = tubePrefix;

describeDriverContract({
  name: 'beanstalk',
  createDriver: () => createBeanstalkDriver({ url: BEANSTALK_URL, tubePrefix }),
  childDriverModule: fileURLToPath(new URL('./fixtures/child-driver.ts', import.meta.url)),
  // A body put straight through the protocol client, as another producer could.
  pushRaw: async (_driver, queue, raw) => {
    const url = new URL(BEANSTALK_URL);
    const client = new BeanstalkClient({ host: url.hostname, port: Number(url.port), connectTimeoutMs: 2_000 });
    try {
      await client.use(`${tubePrefix}${queue}`);
      return await client.put(0, 0, 1, Buffer.from(raw));
    } finally {
      client.close();
    }
  },
});
