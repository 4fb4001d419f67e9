export type {
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterListOptions,
  DeadLetterReason,
  DeadLetterStore,
  DriverCapabilities,
  JobFailure,
  PushOptions,
  PushResult,
  QueueDriver,
  QueueStats,
  ReleaseOptions,
  Reservation,
  ReserveOptions,
} from './driver/queue-driver.js';
export { BASELINE_CAPABILITIES, isValidQueueName, QUEUE_NAME_PATTERN } from './driver/default-capabilities.js';
export { createEnvelope, DEFAULT_QUEUE, type EnvelopeInit } from './envelope/create-envelope.js';
export {
  ENVELOPE_VERSION,
  encodeEnvelope,
  type ErrorInfo,
  type FailureHistory,
  fromBackend,
  type JobCallbacks,
  type JobDescriptor,
  type JobEnvelope,
  NO_CALLBACKS,
  type ParentInfo,
  type RetrySpec,
  toErrorInfo,
} from './envelope/job-envelope.js';
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type JsonValue,
  PayloadSerializer,
  type PayloadSerializerOptions,
} from './envelope/payload-serializer.js';
export * from './errors/index.js';
export { MAX_PRIORITY, Priority, type PriorityInput, resolvePriority } from './job/priority.js';
export { MemoryRateLimitStore } from './rate-limit/memory-rate-limit-store.js';
export type { RateLimitDecision, RateLimitRule, RateLimitStore } from './rate-limit/rate-limit-store.js';
