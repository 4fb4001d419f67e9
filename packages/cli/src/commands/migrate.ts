import { EXIT_OK } from '../cli-error.js';
import type { CliContext } from '../context.js';

/** `queue migrate`: brings the schema of database connections to the newest version. */
export async function runMigrate(ctx: CliContext, options: { connection?: string; all?: boolean; json?: boolean }): Promise<number> {
  const config = await ctx.config();
  const names = options.all === true ? [...config.connections.keys()] : [options.connection ?? config.defaultConnection];
  const results: Record<string, unknown>[] = [];
  for (const name of names) {
    const connection = await ctx.connection(name);
    const driver = await ctx.open(connection);
    if (driver.migrate === undefined) {
      results.push({ connection: name, driver: driver.name, migrated: false });
      if (options.json !== true) ctx.out(`${name} (${driver.name}): nothing to migrate; this driver keeps no schema`);
      continue;
    }
    const result = await driver.migrate();
    results.push({ connection: name, driver: driver.name, migrated: true, from: result.from, to: result.to, applied: result.applied });
    if (options.json === true) continue;
    if (result.applied.length === 0) ctx.out(`${name} (${driver.name}): schema is current (version ${result.to})`);
    else ctx.out(`${name} (${driver.name}): migrated from version ${result.from} to ${result.to} (applied ${result.applied.join(', ')})`);
  }
  if (options.json === true) ctx.out(JSON.stringify({ connections: results }, null, 2));
  return EXIT_OK;
}
