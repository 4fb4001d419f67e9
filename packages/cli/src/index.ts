export { CliError, EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE } from './cli-error.js';
export {
  type ConnectionHealth,
  collectHealth,
  HEALTH_SCHEMA_VERSION,
  type HealthOptions,
  type HealthReport,
  type HealthStatus,
  type HealthThresholds,
  type QueueHealth,
  type RateLimitUsage,
  renderHealth,
  type WorkersHealth,
} from './commands/health.js';
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
export { countWorkers, PRESENCE_QUEUE, WorkerPresence } from './heartbeat/worker-presence.js';
export { type Align, type Column, formatDuration, renderTable } from './output/table.js';
export { createProgram, main, processIO } from './program.js';
