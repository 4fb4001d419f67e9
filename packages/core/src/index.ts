export type { CoordinationStore, ScheduleLedgerEntry } from './coordination/coordination-store.js';
export { MemoryCoordinationStore } from './coordination/memory-coordination-store.js';
export { type DeadLetterQuery, DeadLetterQueue } from './dead-letter/dead-letter-queue.js';
export {
  DEFAULT_DEAD_LETTER_LIMIT,
  DEFAULT_JOB_LIST_LIMIT,
  MAX_DEAD_LETTER_IDS,
  MAX_JOB_LIST_LIMIT,
} from './driver/dead-letter-paging.js';
export { isValidQueueName, QUEUE_NAME_PATTERN } from './driver/default-capabilities.js';
export {
  type AckOptions,
  type CancelOutcome,
  type DriverJobState,
  JOB_STATES,
  type JobInfo,
  type JobLease,
  type JobListOptions,
  type JobLookupOptions,
  type JobState,
} from './driver/job-info.js';
export {
  cancelJob,
  deadLetterJobInfo,
  type ListJobsOptions,
  listJobs,
  lookupJob,
  pauseQueue,
  resumeQueue,
} from './driver/job-lookup.js';
export { onAbort } from './driver/on-abort.js';
export type {
  AckAndClaimOptions,
  AckAndClaimResult,
  ClaimOptions,
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterListOptions,
  DeadLetterReason,
  DeadLetterStore,
  DriverCapabilities,
  JobFailure,
  PostponeOptions,
  PushOptions,
  PushResult,
  QueueDriver,
  QueueStats,
  ReleaseOptions,
  Reservation,
  ReserveOptions,
  SchemaMigrationResult,
} from './driver/queue-driver.js';
export { DEFAULT_RETENTION, type RetentionOptions } from './driver/retention.js';
export { createEnvelope, DEFAULT_QUEUE, type EnvelopeInit } from './envelope/create-envelope.js';
export { describeResult } from './envelope/describe-result.js';
export { MAX_KEPT_RESULT_BYTES } from './envelope/finished-job.js';
export {
  ENVELOPE_VERSION,
  type ErrorInfo,
  type FailureHistory,
  GROUP_KEY_MAX_LENGTH,
  isValidGroupKey,
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
export {
  buildHealthReport,
  type ConnectionCheck,
  type ConnectionHealth,
  type ConnectionHealthOptions,
  checkConnection,
  checkConnectionHealth,
  describeError,
  HEALTH_SCHEMA_VERSION,
  type HealthReport,
  type HealthStatus,
  type HealthThresholds,
  type QueueCountsJson,
  type QueueHealth,
  queueCountsJson,
  type RateLimitUsage,
  type WorkersHealth,
} from './health/connection-health.js';
export { formatDuration } from './health/format-duration.js';
export { withTimeout } from './health/with-timeout.js';
export {
  countWorkers,
  DEFAULT_PRESENCE_TTL_MS,
  PRESENCE_JOB,
  PRESENCE_QUEUE,
  supportsPresence,
  sweepPresence,
  WorkerPresence,
} from './health/worker-presence.js';
export {
  ATTR_DEAD_LETTER_REASON,
  ATTR_JOB_ATTEMPT,
  ATTR_JOB_NAME,
  ATTR_JOB_OUTCOME,
  ATTR_PUSH_SKIPPED,
  ATTR_RESERVE_EMPTY,
  extractTraceContext,
  formatTraceparent,
  INSTRUMENTATION_SCOPE,
  type InstrumentationOptions,
  InstrumentedQueueDecorator,
  injectTraceContext,
  instrumentDriver,
  type JobOutcome,
  METRIC,
  parseTraceparent,
} from './instrumentation/index.js';
export { followUpEnvelopes } from './job/follow-up.js';
export { type DispatchOptions, dispatchMany, Job, type JobDefaults, type JobDispatcher } from './job/job.js';
export type { JobContext } from './job/job-context.js';
export {
  defineJob,
  type JobDefinition,
  type JobDefinitionOptions,
  type JobHandler,
  type PayloadUpgrade,
} from './job/job-definition.js';
export { JobHandle, type JobLookup, type ResultOptions } from './job/job-handle.js';
export { assertJobName, JOB_NAME_PATTERN } from './job/job-identity.js';
export {
  createMiddleware,
  type JobMiddleware,
  type MiddlewareContext,
  type MiddlewareNext,
  type MiddlewareRequirement,
} from './job/job-middleware.js';
export { JobRegistry, type RegisteredJob } from './job/job-registry.js';
export type { JobStatus } from './job/job-state.js';
export type { JsonSafe } from './job/json-safe.js';
export { MAX_PRIORITY, Priority, type PriorityInput, resolvePriority } from './job/priority.js';
export { validatePayload } from './job/validate-payload.js';
export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogRecord,
  silentLogger,
} from './logger/logger.js';
export { DEFAULT_SENSITIVE_KEYS, MASK, maskSensitive, maskSensitiveText } from './logger/mask-sensitive.js';
export { type ConnectionDefinition, type ManagerDispatchOptions, QueueManager, type QueueManagerConfig } from './manager/queue-manager.js';
export type { MiddlewareKey } from './middleware/middleware-key.js';
export { rateLimited } from './middleware/rate-limited.js';
export { type ThrottleExceptionsOptions, throttleExceptions } from './middleware/throttle-exceptions.js';
export { type WithoutOverlappingOptions, withoutOverlapping } from './middleware/without-overlapping.js';
export { MemoryRateLimitStore } from './rate-limit/memory-rate-limit-store.js';
export type { RateLimitDecision, RateLimitRule, RateLimitStore } from './rate-limit/rate-limit-store.js';
export { type NamedRateLimit, RateLimiter, type RateLimiterOptions } from './rate-limit/rate-limiter.js';
export { type DelayResult, RetryPolicy } from './retry/retry-policy.js';
export {
  DEFAULT_SCHEDULE_GRACE_MS,
  type MissedTickPolicy,
  type OverlapPolicy,
  type ScheduleDefinition,
  scheduleLedger,
  validateSchedules,
} from './schedule/schedule-definition.js';
export { runScheduleNow, type ScheduleStatus, scheduleStatuses } from './schedule/schedule-status.js';
export { Scheduler, type SchedulerOptions } from './schedule/scheduler.js';
export { planTicks, type TickPlan } from './schedule/tick-plan.js';
export { type ExecutionOutcome, JobExecutor, type JobExecutorOptions } from './worker/job-executor.js';
export { type FailureOutcome, RequeueHelper } from './worker/requeue-helper.js';
export { Worker, type WorkerOptions, type WorkerRateLimitOptions } from './worker/worker.js';
export type { JobEventBase, StopReason, WorkerEventMap } from './worker/worker-events.js';
