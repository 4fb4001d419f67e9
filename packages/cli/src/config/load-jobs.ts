import { resolve } from 'node:path';
import type { RegisteredJob } from '@queuekit/core';
import { CliError } from '../cli-error.js';
import type { JobsConfig } from './config-types.js';
import { importFile } from './import-module.js';
import { syntaxErrorLocation } from './syntax-error-location.js';

const isJob = (value: unknown): value is RegisteredJob =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as RegisteredJob).name === 'string' &&
  typeof (value as RegisteredJob).handler === 'function';

/** Job definitions a module exports: its default export (one definition or an array) and its named exports. */
function exportedJobs(module: Record<string, unknown>): RegisteredJob[] {
  const found: RegisteredJob[] = [];
  for (const value of Object.values(module)) {
    if (isJob(value)) found.push(value);
    else if (Array.isArray(value)) found.push(...value.filter(isJob));
  }
  return found;
}

/**
 * The job definitions of a config: inline definitions, and those exported by module paths
 * (resolved against the config file's directory). The same definition listed twice counts once.
 */
export async function loadJobs(jobs: JobsConfig | undefined, file: string, dir: string): Promise<RegisteredJob[]> {
  if (jobs === undefined) return [];
  const items = typeof jobs === 'string' ? [jobs] : jobs;
  const out: RegisteredJob[] = [];
  for (const [index, item] of items.entries()) {
    if (typeof item !== 'string') {
      out.push(item);
      continue;
    }
    const key = typeof jobs === 'string' ? 'jobs' : `jobs[${index}]`;
    const path = resolve(dir, item);
    let module: Record<string, unknown>;
    try {
      module = await importFile(path);
    } catch (error) {
      if (error instanceof CliError) throw error;
      const at = error instanceof SyntaxError ? syntaxErrorLocation(path) : undefined;
      throw new CliError(`${file}: ${key}: cannot import ${path}${at === undefined ? '' : `:${at}`}: ${(error as Error).message}`, 1, {
        cause: error,
      });
    }
    const found = exportedJobs(module);
    if (found.length === 0) throw new CliError(`${file}: ${key}: expected ${path} to export job definitions (from defineJob), found none`);
    out.push(...found);
  }
  const byName = new Map<string, RegisteredJob>();
  for (const job of out) {
    const existing = byName.get(job.name);
    if (existing !== undefined && existing !== job) throw new CliError(`${file}: jobs: two different definitions are named "${job.name}"`);
    byName.set(job.name, job);
  }
  return [...byName.values()];
}
