/** The variable that overrides a connection's URL: `QUEUE_<NAME>_URL`, NAME upper-cased with every other character as `_`. */
export function urlVariable(connection: string): string {
  return `QUEUE_${connection.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

/** The variable that overrides the default connection. */
export const CONNECTION_VARIABLE = 'QUEUE_CONNECTION';

/** Environment values that apply to a config; empty strings count as unset. */
export interface EnvOverrides {
  readonly connection: string | undefined;
  /** URL per connection name. */
  readonly urls: ReadonlyMap<string, string>;
}

/** Reads {@link CONNECTION_VARIABLE} and `QUEUE_<NAME>_URL` for each of `connections`. */
export function readEnvOverrides(connections: readonly string[], env: NodeJS.ProcessEnv = process.env): EnvOverrides {
  const value = (key: string) => {
    const raw = env[key];
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const urls = new Map<string, string>();
  for (const name of connections) {
    const url = value(urlVariable(name));
    if (url !== undefined) urls.set(name, url);
  }
  return { connection: value(CONNECTION_VARIABLE), urls };
}
