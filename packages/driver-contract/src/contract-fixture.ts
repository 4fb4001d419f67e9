import type { DriverCapabilities, QueueDriver, RetentionOptions } from '@queuekit/core';

/** Driver settings some tests need besides the defaults; a driver's `createDriver` passes them on. */
export interface ContractDriverSettings {
  /** The driver's `retention` option (drivers with `capabilities.retention`). */
  readonly retention?: RetentionOptions;
}

import { afterEach, beforeEach } from 'vitest';
import { randomQueueName } from './helpers.js';

/** Options of {@link describeDriverContract}. */
export interface DriverContractOptions {
  /** Names the suite in the output (`redis`, `postgres`, …). */
  readonly name: string;
  /**
   * Makes a fresh driver; called once per test (the suite closes it afterwards). The retention
   * tests pass `settings`, which the driver's options must take on.
   */
  readonly createDriver: (settings?: ContractDriverSettings) => QueueDriver | Promise<QueueDriver>;
  /**
   * Absolute path of a .ts/.js module exporting `createDriver()` that reaches the same backend from
   * another process; enables the crash tests. Leave it out for drivers whose state lives in memory.
   */
  readonly childDriverModule?: string;
  /** Overrides of the capabilities the driver declares (e.g. to turn a group off, visibly). */
  readonly capabilities?: Partial<DriverCapabilities>;
  /**
   * Stores `raw` as a body of `queue` without encoding it, for the poison-message tests. Drivers
   * whose backend can hold an undecodable body provide it; without it those tests are skipped.
   */
  readonly pushRaw?: (driver: QueueDriver, queue: string, raw: string) => Promise<unknown>;
}

/** What each test of the suite gets: the driver of the running test and fresh queue names. */
export interface ContractFixture {
  readonly options: DriverContractOptions;
  /** The capabilities the suite goes by (declared, with the overrides applied). */
  readonly capabilities: DriverCapabilities;
  /** The driver of the running test. */
  driver(): QueueDriver;
  /** A queue name unused elsewhere; emptied after the test. */
  queue(): string;
  /** Another driver on the same backend (with `settings`), closed after the test. */
  openDriver(settings?: ContractDriverSettings): Promise<QueueDriver>;
}

/**
 * Registers the per-test lifecycle (fresh driver, random queues, cleanup, close) in the enclosing
 * describe and returns the fixture the test groups use.
 */
export function useContractFixture(options: DriverContractOptions, capabilities: DriverCapabilities): ContractFixture {
  let driver: QueueDriver | undefined;
  let queues: string[] = [];
  let extra: QueueDriver[] = [];

  beforeEach(async () => {
    driver = await options.createDriver();
    queues = [];
    extra = [];
  });

  afterEach(async () => {
    const current = driver;
    driver = undefined;
    try {
      if (current !== undefined) await cleanUp(current, queues);
    } finally {
      await Promise.allSettled([...extra, ...(current === undefined ? [] : [current])].map((d) => d.close()));
    }
  });

  return {
    options,
    capabilities,
    driver() {
      if (driver === undefined) throw new Error('the contract fixture is used outside a test');
      return driver;
    },
    queue() {
      const name = randomQueueName();
      queues.push(name);
      return name;
    },
    async openDriver(settings) {
      const other = await options.createDriver(settings);
      extra.push(other);
      return other;
    },
  };
}

/** Empties what a test left behind in its queues; a driver the test closed is left alone. */
async function cleanUp(driver: QueueDriver, queues: readonly string[]): Promise<void> {
  for (const queue of queues) {
    try {
      // A paused queue would keep its leftover jobs from the drain below.
      if (driver.resume !== undefined) await driver.resume(queue);
      await driver.purge(queue);
      await driver.deadLetters.purge({ queue });
      // Jobs still leased stay in the backend; take the ones whose lease already ran out.
      for (let i = 0; i < 2_000; i += 1) {
        const reservation = await driver.reserve([queue], { leaseMs: 1_000, waitMs: 0 });
        if (reservation === undefined) break;
        await driver.ack(reservation);
      }
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'DRIVER_CLOSED') throw error;
      return;
    }
  }
}
