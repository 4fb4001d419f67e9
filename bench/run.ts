/**
 * Runs one benchmark suite: `pnpm bench <suite>` (e.g. `redis`, `database`, `instrumentation`).
 * Each suite lives in suites/<suite>.ts and exports `run(args)`. Results print as a table with
 * ratios and are written as JSON to bench/results/<suite>-<timestamp>.json.
 */
const suite = process.argv[2];
if (suite === undefined || !/^[a-z0-9-]+$/.test(suite)) {
  console.error('usage: pnpm bench <suite> [options]   (suites: see bench/suites/)');
  process.exit(2);
}
const module = (await import(`./suites/${suite}.ts`)) as { run?(args: string[]): Promise<void> };
if (module.run === undefined) {
  console.error(`bench: the ${suite} suite runs each system in a fresh process: pnpm bench ${suite} (from the repository root)`);
  process.exit(2);
}
await module.run(process.argv.slice(3));
