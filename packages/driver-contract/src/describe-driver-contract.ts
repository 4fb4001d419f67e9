import type { DriverCapabilities } from '@queuekit/core';
import { describe } from 'vitest';
import { type DriverContractOptions, useContractFixture } from './contract-fixture.js';
import { describeBatch } from './groups/batch.js';
import { describeCoordination, type OptionalMembers } from './groups/coordination.js';
import { describeCrashRecovery } from './groups/crash.js';
import { describeDeadLetters } from './groups/dead-letters.js';
import { describeDelivery } from './groups/delivery.js';
import { describeJobGroups } from './groups/job-groups.js';
import { describeJobState } from './groups/job-state.js';
import { describeLeases } from './groups/leases.js';
import { describeOperations } from './groups/operations.js';
import { describePushOutcomes } from './groups/push-outcomes.js';
import { describeScheduleLedger } from './groups/schedule-ledger.js';

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
  // Generous per-test limit: a backend over a network is slower than memory; loops bound themselves.
  describe(`${options.name} driver contract`, { timeout: 30_000 }, async () => {
    const { capabilities, members } = await probe(options);
    const fixture = useContractFixture(options, capabilities);
    describeDelivery(fixture);
    describeLeases(fixture);
    describeDeadLetters(fixture);
    describeBatch(fixture);
    describeOperations(fixture);
    describePushOutcomes(fixture);
    describeJobState(fixture);
    describeCoordination(fixture, members);
    describeScheduleLedger(fixture, members);
    describeCrashRecovery(fixture);
    describeJobGroups(fixture);
  });
}

/** The driver's own capabilities with the suite options' overrides applied, and its optional members. */
async function probe(options: DriverContractOptions): Promise<{ capabilities: DriverCapabilities; members: OptionalMembers }> {
  const driver = await options.createDriver();
  try {
    return {
      capabilities: { ...driver.capabilities, ...options.capabilities },
      members: { postpone: driver.postpone !== undefined, coordination: driver.createCoordinationStore !== undefined },
    };
  } finally {
    await driver.close();
  }
}
