import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse } from 'acorn';

const JAVASCRIPT = new Set(['.mjs', '.js', '.cjs']);

/**
 * Where a JavaScript file fails to parse, as `line:column` (both from 1), or undefined when it
 * parses or is not JavaScript. Node's SyntaxError from a dynamic import carries no position, so
 * the file is parsed again (acorn) to point at the fault.
 */
export function syntaxErrorLocation(file: string): string | undefined {
  const ext = extname(file);
  if (!JAVASCRIPT.has(ext)) return undefined;
  const source = readFileSync(file, 'utf8');
  try {
    parse(source, {
      ecmaVersion: 'latest',
      sourceType: ext === '.cjs' ? 'script' : 'module',
      allowHashBang: true,
      allowReturnOutsideFunction: ext === '.cjs',
    });
    return undefined;
  } catch (error) {
    const loc = (error as { loc?: { line: number; column: number } }).loc;
    return loc === undefined ? undefined : `${loc.line}:${loc.column + 1}`;
  }
}
