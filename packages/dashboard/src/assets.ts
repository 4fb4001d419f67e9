import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A static file the dashboard serves. */
export interface Asset {
  readonly body: string;
  readonly contentType: string;
}

const require = createRequire(import.meta.url);

let cached: ReadonlyMap<string, Asset> | undefined;

/**
 * The files under `/assets/`: htmx from its npm package (resolved in node_modules, so nothing is
 * fetched from a CDN at run time) and the dashboard's stylesheet shipped in the package. Read once.
 */
export function assets(): ReadonlyMap<string, Asset> {
  cached ??= new Map([
    [
      'htmx.min.js',
      { body: readFileSync(require.resolve('htmx.org/dist/htmx.min.js'), 'utf8'), contentType: 'text/javascript; charset=utf-8' },
    ],
    [
      'dashboard.css',
      { body: readFileSync(new URL('../assets/dashboard.css', import.meta.url), 'utf8'), contentType: 'text/css; charset=utf-8' },
    ],
  ]);
  return cached;
}
