export { MemoryDeadLetterStore } from './memory-dead-letter-store.js';
export {
  createMemoryDriver,
  MemoryDriver,
  type MemoryDriverOptions,
  type PushRawOptions,
} from './memory-driver.js';
export { MemoryStore, type MemoryStoreOptions, type MemoryStoreSnapshot, type StoredJob } from './memory-store.js';
