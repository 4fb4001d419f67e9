import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError } from '../cli-error.js';

let tsLoader: Promise<void> | undefined;

/** Registers tsx's ESM loader once, so `.ts` config and job modules can be imported. */
function registerTypeScript(file: string): Promise<void> {
  tsLoader ??= (async () => {
    try {
      const api = (await import('tsx/esm/api' as string)) as { register: () => unknown };
      api.register();
    } catch (error) {
      tsLoader = undefined;
      throw new CliError(
        `${file}: loading TypeScript needs the package tsx: install it (npm install --save-dev tsx) or use a .mjs file`,
        1,
        {
          cause: error,
        },
      );
    }
  })();
  return tsLoader;
}

/** True when this process already runs TypeScript (started through tsx). */
function runsTypeScript(): boolean {
  return process.execArgv.some((arg) => arg.includes('tsx')) || process.env.TSX_TSCONFIG_PATH !== undefined;
}

/** Imports an absolute file path, registering a TypeScript loader for `.ts` / `.mts` files. */
export async function importFile(file: string): Promise<Record<string, unknown>> {
  const ext = extname(file);
  if ((ext === '.ts' || ext === '.mts' || ext === '.cts') && !runsTypeScript()) await registerTypeScript(file);
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** True when `error` says that `specifier` (not one of its own imports) could not be found. */
export function isModuleNotFound(error: unknown, specifier: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && message.includes(`'${specifier}'`);
}

/**
 * Imports a package, resolving it first from the config file's directory (the application's own
 * dependencies) and then from the CLI's. Undefined when it is installed in neither place.
 */
export async function importPackage(specifier: string, fromFile: string): Promise<Record<string, unknown> | undefined> {
  let resolved: string | undefined;
  try {
    resolved = createRequire(fromFile).resolve(specifier);
  } catch {
    // Not resolvable from the application (or exports only an `import` condition): try the CLI's own.
  }
  if (resolved !== undefined) return importFile(resolved);
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if (isModuleNotFound(error, specifier)) return undefined;
    throw error;
  }
}
