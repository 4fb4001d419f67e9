import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { PACKAGE_DIR } from './cli.js';

const schema = JSON.parse(readFileSync(join(PACKAGE_DIR, 'schema/health.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** Throws, listing every violation, unless `report` matches schema/health.schema.json. */
export function assertHealthSchema(report: unknown): void {
  if (!validate(report)) {
    throw new Error(
      `health report does not match its schema:\n${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(report, null, 2)}`,
    );
  }
}
