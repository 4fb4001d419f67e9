/**
 * Measures one system for one round in this process and prints its figures as one line
 * `RESULT {json}`; run by ab.ts, which starts a fresh process for every system and round.
 *
 *   node --import tsx one.ts <suite> <system> [--root <checkout>] [suite flags]
 *
 * With `--root`, queuekit's packages are loaded from that checkout's build (`dist`) instead of
 * this one's, so an older commit can be measured beside the current one.
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { flag } from './lib.js';

interface Suite {
  parse(args: string[]): unknown;
  makeSystem(
    name: string,
    settings: unknown,
    modules?: unknown,
  ): { process(count: number, concurrency: number): Promise<number>; cleanup(): Promise<void> };
  measure(system: unknown, settings: unknown): Promise<Record<string, unknown>>;
}

const [suiteName, systemName] = process.argv.slice(2);
const args = process.argv.slice(4);
if (suiteName === undefined || systemName === undefined || !/^[a-z0-9-]+$/.test(suiteName)) {
  console.error('usage: one.ts <suite> <system> [--root <checkout>] [suite flags]');
  process.exit(2);
}

/** The built entry of `name` as the checkout at `root` resolves it from its bench/ folder. */
async function load(root: string, name: string): Promise<unknown> {
  const path = createRequire(join(resolve(root), 'bench', 'package.json')).resolve(name);
  if (!path.includes(`${'/'}dist${'/'}`))
    throw new Error(`bench: ${name} in ${root} resolves to ${path}, not to a build: run the build there`);
  return import(pathToFileURL(path).href);
}

const suite = (await import(`./suites/${suiteName}.ts`)) as Suite;
const settings = suite.parse(args);
const root = flag(args, '--root');
const DRIVER_PACKAGES: Record<string, string> = { database: '@queuekit/driver-database', beanstalk: '@queuekit/driver-beanstalk' };
const driverPackage = DRIVER_PACKAGES[suiteName] ?? '@queuekit/driver-redis';
const modules = root === undefined ? undefined : { core: await load(root, '@queuekit/core'), driver: await load(root, driverPackage) };
const system = suite.makeSystem(systemName, settings, modules);
try {
  // A warm-up at both concurrencies the suites measure, so no system pays for JIT compilation and
  // script loading in the figures: after 500 jobs the first measured phase (c=1) still ran ~30%
  // above its later rounds in one process, in client CPU per job.
  await system.process(2_000, 1);
  await system.process(3_000, 50);
  const figures = await suite.measure(system, settings);
  console.log(`RESULT ${JSON.stringify({ ...figures, system: systemName })}`);
} finally {
  await system.cleanup();
}
process.exit(0);
