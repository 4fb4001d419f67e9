import type { DriverCapabilities } from '@queuekit/core';
import { describe } from 'vitest';
import { type DriverContractOptions, useContractFixture } from './contract-fixture.js';
import { describeDeadLetters } from './groups/dead-letters.js';
import { describeDelivery } from './groups/delivery.js';
import { describeLeases } from './groups/leases.js';
import { describeOperations } from './groups/operations.js';

/**
 * Registers the driver contract suite: every behaviour a queuekit driver promises, run against a
 * fresh driver per test (closed afterwards) and random queue names. Groups a driver cannot run
 * are skipped only on a declared missing capability, and show as skipped in the output.
 *
 * ```ts
 * describeDriverContract({ name: 'redis', createDriver: () => createRedisDriver({ url }) });
 * ```
 */
export function describeDriverContract(options: DriverContractOptions): void {
  describe(`${options.name} driver contract`, async () => {
    const capabilities = await declaredCapabilities(options);
    const fixture = useContractFixture(options, capabilities);
    describeDelivery(fixture);
    describeLeases(fixture);
    describeDeadLetters(fixture);
    describeOperations(fixture);
  });
}

/** The driver's own capabilities with the suite options' overrides applied. */
async function declaredCapabilities(options: DriverContractOptions): Promise<DriverCapabilities> {
  const probe = await options.createDriver();
  try {
    return { ...probe.capabilities, ...options.capabilities };
  } finally {
    await probe.close();
  }
}
