import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { describeDriverContract } from '../src/index.js';
import { createDriver } from './fixtures/file-child-driver.js';
import type { FileDriver } from './fixtures/file-driver.js';

// A driver whose state is a file shared by processes: it runs the whole suite, including the
// crash tests that kill worker processes, which no in-memory driver can take part in.
const dir = mkdtempSync(join(tmpdir(), 'queuekit-contract-'));
process.env.QUEUEKIT_CONTRACT_FILE = join(dir, 'state.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeDriverContract({
  name: 'file fixture',
  createDriver,
  childDriverModule: fileURLToPath(new URL('./fixtures/file-child-driver.ts', import.meta.url)),
  pushRaw: (driver, queue, raw) => (driver as FileDriver).pushRaw(queue, raw),
});
