// The health document's types and the presence helpers live in core (the dashboard shares them); re-exported for existing users.
export {
  type ConnectionHealth,
  countWorkers,
  formatDuration,
  HEALTH_SCHEMA_VERSION,
  type HealthReport,
  type HealthStatus,
  type HealthThresholds,
  PRESENCE_QUEUE,
  type QueueHealth,
  type RateLimitUsage,
  WorkerPresence,
  type WorkersHealth,
} from '@queuekit/core';
export { CliError, EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE } from './cli-error.js';
export { collectHealth, type HealthOptions, renderHealth } from './commands/health.js';
export { BACKEND_PACKAGES } from './config/backends.js';
export {
  BACKENDS,
  type BackendConnectionConfig,
  type BackendName,
  type CliConnection,
  type ConnectionConfig,
  type HealthConfig,
  type JobsConfig,
  type LoadedConfig,
  type QueueCliConfig,
  type WorkerConfig,
} from './config/config-types.js';
export { defineConfig } from './config/define-config.js';
export { CONNECTION_VARIABLE, urlVariable } from './config/env-overrides.js';
export { CONFIG_FILE_NAMES, findConfigFile } from './config/find-config.js';
export { type LoadConfigOptions, loadConfig } from './config/load-config.js';
export { CliContext, type CliIO } from './context.js';
export { type Align, type Column, renderTable } from './output/table.js';
export { createProgram, main, processIO } from './program.js';
