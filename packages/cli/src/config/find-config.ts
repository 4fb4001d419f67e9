import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError } from '../cli-error.js';

/** File names looked for in each directory, in this order. */
export const CONFIG_FILE_NAMES = ['queue.config.mjs', 'queue.config.js', 'queue.config.ts', 'queue.config.mts'] as const;

/**
 * The config file: `explicit` (resolved against `cwd`) when given, else the first of
 * {@link CONFIG_FILE_NAMES} found in `cwd` or one of its parents.
 */
export function findConfigFile(cwd: string, explicit?: string): string {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit);
    if (!existsSync(file) || !statSync(file).isFile()) throw new CliError(`--config: no such file ${file}`);
    return file;
  }
  let dir = resolve(cwd);
  for (let depth = 0; depth < 100; depth += 1) {
    for (const name of CONFIG_FILE_NAMES) {
      const file = join(dir, name);
      if (existsSync(file)) return file;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new CliError(`no ${CONFIG_FILE_NAMES.join(', ')} found in ${resolve(cwd)} or its parents (give one with --config PATH)`);
}
