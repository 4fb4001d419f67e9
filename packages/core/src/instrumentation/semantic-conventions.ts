/**
 * Names of the metrics, span attributes and values the instrumentation emits. Where OpenTelemetry's
 * messaging semantic conventions define a name it is used as is (`messaging.*`, `error.type`); what
 * only queuekit has lives under `queuekit.*`. Durations are in seconds, as the conventions ask.
 */

/** Instrumentation scope name of the meter and the tracer. */
export const INSTRUMENTATION_SCOPE = '@queuekit/core';

/** `messaging.system`: the backend, i.e. the driver's `name` (`redis`, `postgres`, `memory`, …). */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
/** `messaging.destination.name`: the queue. */
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
/** `messaging.operation.type`: `send`, `receive`, `process` or `settle`. */
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
/** `messaging.operation.name`: the system-specific operation (`send`, `receive`, `process`, `ack`, `release`, `dead_letter`). */
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
/** `messaging.message.id`: the job id. */
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
/** `messaging.batch.message_count`: envelopes in one push, set when more than one. */
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
/** `error.type`: the error's name (`JobTimeoutError`, `TypeError`, …) when an operation failed. */
export const ATTR_ERROR_TYPE = 'error.type';

/** The registered job name. */
export const ATTR_JOB_NAME = 'queuekit.job.name';
/** Delivery number of this delivery (1 for the first). */
export const ATTR_JOB_ATTEMPT = 'queuekit.job.attempt';
/** How a delivery ended: see {@link JobOutcome}. */
export const ATTR_JOB_OUTCOME = 'queuekit.job.outcome';
/** Why a job was dead-lettered (`failed`, `timeout`, `poison`, `unknown-job`, `max-deliveries`, `invalid-payload`). */
export const ATTR_DEAD_LETTER_REASON = 'queuekit.dead_letter.reason';
/** On `receive` durations: true when the reserve call returned no job. */
export const ATTR_RESERVE_EMPTY = 'queuekit.reserve.empty';
/** On a producer span: the push skipped this envelope because its unique key was held. */
export const ATTR_PUSH_SKIPPED = 'queuekit.push.skipped';

/**
 * How a delivery ended: `completed` (acknowledged), `retried` (released after a failure),
 * `dead-lettered`, `released` (handed back unfinished, e.g. at shutdown), `unsettled` (the
 * delivery ended without a settle call: its lease was lost, or settling failed).
 */
export type JobOutcome = 'completed' | 'retried' | 'dead-lettered' | 'released' | 'unsettled';

/** Metric names. */
export const METRIC = {
  /** Counter of jobs stored by push (`messaging.client.sent.messages`); unique-key skips excluded. */
  enqueued: 'messaging.client.sent.messages',
  /** Counter of jobs reserved (`messaging.client.consumed.messages`). */
  reserved: 'messaging.client.consumed.messages',
  /** Counter of reserve calls that returned no job. */
  reserveEmpty: 'queuekit.reserve.empty',
  /** Counter of deliveries acknowledged as completed. */
  completed: 'queuekit.jobs.completed',
  /** Counter of deliveries that failed: every retry plus every dead-lettering. */
  failed: 'queuekit.jobs.failed',
  /** Counter of deliveries released for another attempt after a failure. */
  retried: 'queuekit.jobs.retried',
  /** Counter of jobs moved to the dead-letter store. */
  deadLettered: 'queuekit.jobs.dead_lettered',
  /** Histogram of reserve-to-settle time per delivery, in seconds (`messaging.process.duration`). */
  processDuration: 'messaging.process.duration',
  /** Histogram of driver call durations (push, reserve, ack, release, dead-letter), in seconds. */
  operationDuration: 'messaging.client.operation.duration',
  /** Histogram of the time a job waited from `availableAt` to its first reservation, in seconds. */
  queueWait: 'queuekit.job.queue_wait.duration',
} as const;
