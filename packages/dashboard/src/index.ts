export { createDashboard, type DashboardHandler } from './create-dashboard.js';
export type { DashboardOptions, DashboardSchedule } from './dashboard-options.js';
export {
  type DeadLetterGroup,
  type DeadLetterGrouping,
  type GroupActionResult,
  groupDeadLetters,
  groupKey,
  retryGroup,
} from './dead-letter-groups.js';
export { JobRateRecorder, type JobRateRecorderOptions, percentile, type QueueRates } from './job-rate-recorder.js';
export {
  collectHealth,
  collectOverview,
  type OverviewModel,
  type OverviewProblem,
  type ProblemSeverity,
  type ScheduleStatus,
  scheduleStatuses,
} from './overview.js';
