import { describe, expect, it } from 'vitest';
import { defineJob, RetryLaterError, RetryPolicy, Worker } from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';

describe('RetryLaterError', () => {
  it("retries after the error's retryAfterMs instead of the policy's delay, counting the attempt", async () => {
    const driver = createMemoryDriver();
    const attempts: number[] = [];
    const job = defineJob('busy-partner', async (_p: {}, ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt === 1) throw new RetryLaterError('partner asked to come back later', 50);
      return 'ok';
    });
    // The policy alone would wait an hour: the job finishing proves the error's delay was used.
    await job.create({}).attempts(2, RetryPolicy.fixed(3_600_000)).dispatch(driver);
    const delays: number[] = [];
    const worker = new Worker({ driver, jobs: [job], waitMs: 20 });
    worker.on('retrying', (event) => delays.push(event.delayMs));
    const done = new Promise<void>((resolve) => worker.on('completed', () => resolve()));
    void worker.run();
    await done;
    await worker.stop({ graceMs: 0 });
    expect(delays).toEqual([50]);
    expect(attempts).toEqual([1, 2]);
  });
});
