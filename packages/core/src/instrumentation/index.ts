export type { InstrumentationOptions } from './instrumentation-options.js';
export { InstrumentedQueueDecorator, instrumentDriver } from './instrumented-queue-decorator.js';
export {
  ATTR_DEAD_LETTER_REASON,
  ATTR_JOB_ATTEMPT,
  ATTR_JOB_NAME,
  ATTR_JOB_OUTCOME,
  ATTR_PUSH_SKIPPED,
  ATTR_RESERVE_EMPTY,
  INSTRUMENTATION_SCOPE,
  type JobOutcome,
  METRIC,
} from './semantic-conventions.js';
export { extractTraceContext, formatTraceparent, injectTraceContext, parseTraceparent } from './trace-context.js';
