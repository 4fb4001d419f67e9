export { createSyncDriver, SyncDriver, type SyncEventListener, sync } from './sync-driver.js';
export type { SyncDriverOptions } from './sync-options.js';
