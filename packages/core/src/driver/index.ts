/**
 * `@queuekit/core/driver`: what driver packages need beyond the contract's types, which stay in
 * the main entry with everything a user of queuekit needs. Envelope encoding, finished-job records,
 * answers to lookups, paging, retention bounds, in-flight tracking for close().
 */

export { decodeFinishedJob, encodeFinishedJob, type FinishedJob } from '../envelope/finished-job.js';
export { encodeEnvelope, fromBackend } from '../envelope/job-envelope.js';
export { deadLetterIds, deadLetterPaging, jobListPaging } from './dead-letter-paging.js';
export { BASELINE_CAPABILITIES } from './default-capabilities.js';
export { checkGroupConcurrency } from './group-concurrency.js';
export { InFlightCalls } from './in-flight-calls.js';
export { cancelledJob, finishedJobInfo, type LiveJobFacts, liveJobInfo } from './job-info-from.js';
export { refuseTransaction } from './refuse-transaction.js';
export { type Retention, resolveRetention } from './retention.js';
