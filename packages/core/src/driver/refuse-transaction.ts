import { UnsupportedError } from '../errors/unsupported-error.js';
import type { PushOptions } from './queue-driver.js';

/**
 * What a driver without `capabilities.transactionalPush` does with `push(…, { transaction })`:
 * throws an UnsupportedError naming the driver, before anything is stored, so the application
 * learns that its transaction would not cover the push. Returns when no transaction was given.
 */
export function refuseTransaction(driver: string, options: PushOptions | undefined): void {
  if (options?.transaction === undefined) return;
  throw new UnsupportedError(
    `${driver}: push() inside a transaction is not supported (capabilities.transactionalPush is false); push after the transaction commits`,
  );
}
