import { createMemoryDriver, type MemoryDriver, MemoryStore } from '@queuekit/core/testing';
import { describeDriverContract } from '../src/index.js';

// The memory driver is the reference implementation, so the suite runs against it here, beside
// the suite itself (core cannot depend on this package without a cycle).
// One store for the file, like one backend: each test gets a fresh driver on it and its own random
// queues, and a second driver opened by a test sees the same jobs. Its state cannot outlive the
// process, so there is no childDriverModule and the crash tests show as skipped.
const store = new MemoryStore();

describeDriverContract({
  name: 'memory',
  createDriver: (settings) => createMemoryDriver({ store, maxMessageBytes: 64 * 1024, ...settings }),
  pushRaw: (driver, queue, raw) => (driver as MemoryDriver).pushRaw(queue, raw),
});
