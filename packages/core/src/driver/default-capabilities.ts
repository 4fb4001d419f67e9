import type { DriverCapabilities } from './queue-driver.js';

/** Queue names: 1–100 characters of letters, digits, `.`, `_`, `-` and `:`; validated everywhere. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

/** True when `name` is a valid queue name. */
export function isValidQueueName(name: string): boolean {
  return QUEUE_NAME_PATTERN.test(name);
}

/** Capabilities of a driver that does nothing natively; spread and override. */
export const BASELINE_CAPABILITIES: DriverCapabilities = Object.freeze({
  delay: 'emulated',
  priority: true,
  lease: 'emulated',
  extend: true,
  blockingReserve: false,
  deadLetter: 'store',
  bulkPush: false,
  transactionalPush: false,
  uniqueKeys: false,
  inline: false,
  rewriteOnRelease: false,
  batch: false,
  lookup: false,
  retention: false,
  progress: false,
  cancel: false,
  pause: false,
  groups: false,
});
