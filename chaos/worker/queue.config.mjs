// The config of the chaos runner's `queue work` processes. The runner describes the connection
// (CHAOS_CONNECTION, a plain connection object as JSON), the queue and the worker settings in the
// environment, so this one file serves every driver.
const env = process.env;
if (env.CHAOS_CONNECTION === undefined || env.CHAOS_QUEUE === undefined) {
  throw new Error('chaos config: CHAOS_CONNECTION and CHAOS_QUEUE are set by the chaos runner');
}
const queue = env.CHAOS_QUEUE;

/** @type {import('@queuekit/cli').QueueCliConfig} */
export default {
  connections: { chaos: { ...JSON.parse(env.CHAOS_CONNECTION), queues: [queue] } },
  queues: [queue],
  jobs: ['./jobs.mjs'],
  worker: {
    concurrency: Number(env.CHAOS_CONCURRENCY ?? 8),
    // The runner kills a worker every few seconds, far more often than production sees, and a
    // job of several leases can be caught by five of those kills in a row; the default (5) would
    // then dead-letter it as max-deliveries though it never failed. Such jobs are still counted
    // as lost; this limit keeps the guard for a job that really kills its worker every time.
    maxLostDeliveries: Number(env.CHAOS_MAX_LOST_DELIVERIES ?? 20),
    ...(env.CHAOS_LEASE_MS === undefined ? {} : { leaseMs: Number(env.CHAOS_LEASE_MS) }),
  },
};
