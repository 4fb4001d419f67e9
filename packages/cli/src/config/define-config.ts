import type { QueueCliConfig } from './config-types.js';

/** Types a config file's default export: `export default defineConfig({ connections: { … } })`. Returns it unchanged. */
export function defineConfig<T extends QueueCliConfig>(config: T): T {
  return config;
}
