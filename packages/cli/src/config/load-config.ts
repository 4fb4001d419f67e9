import { dirname, isAbsolute, relative } from 'node:path';
import { CliError } from '../cli-error.js';
import type { LoadedConfig } from './config-types.js';
import { readEnvOverrides } from './env-overrides.js';
import { findConfigFile } from './find-config.js';
import { importFile } from './import-module.js';
import { loadJobs } from './load-jobs.js';
import { syntaxErrorLocation } from './syntax-error-location.js';
import { validateConfig } from './validate-config.js';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Where the search for a config file starts; default `process.cwd()`. */
  readonly cwd?: string;
  /** An explicit config file (`--config`), resolved against `cwd`. */
  readonly configFile?: string;
  /** Environment for the overrides; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Finds, imports and validates the config file, applying `QUEUE_CONNECTION` and `QUEUE_<NAME>_URL`.
 * Throws a CliError that names the file and the key at fault.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const file = findConfigFile(cwd, options.configFile);
  const dir = dirname(file);
  const shown = relative(cwd, file);
  const label = shown === '' || shown.startsWith('..') || isAbsolute(shown) ? file : shown;
  let module: Record<string, unknown>;
  try {
    module = await importFile(file);
  } catch (error) {
    if (error instanceof CliError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    // A syntax error names no position; point at it when it is in the config file itself.
    const at = error instanceof SyntaxError ? syntaxErrorLocation(file) : undefined;
    throw new CliError(`${label}${at === undefined ? '' : `:${at}`}: cannot load the config file: ${message}`, 1, { cause: error });
  }
  if (!('default' in module)) throw new CliError(`${label}: expected a default export (export default { connections: { … } })`);
  let value = module.default;
  if (typeof value === 'function') {
    try {
      value = await (value as () => unknown)();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new CliError(`${label}: the default export (a config function) failed: ${message}`, 1, { cause: error });
    }
  }
  const connectionNames =
    typeof value === 'object' && value !== null ? Object.keys((value as { connections?: object }).connections ?? {}) : [];
  return validateConfig(value, {
    file,
    label,
    dir,
    env: readEnvOverrides(connectionNames, options.env),
    loadJobs: (jobs) => loadJobs(jobs, label, dir),
  });
}
