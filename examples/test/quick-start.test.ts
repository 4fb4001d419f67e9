import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsx = createRequire(import.meta.url).resolve('tsx');
const script = fileURLToPath(new URL('../quick-start.ts', import.meta.url));

describe('quick start', () => {
  it('dispatches jobs to a SQLite file and a worker runs them, follow-ups and dead letter included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'queuekit-quick-start-'));
    const file = join(dir, 'demo.sqlite');
    try {
      const { stdout } = await run(process.execPath, ['--conditions=source', '--import', tsx, script, file], { timeout: 30_000 });
      expect(existsSync(file)).toBe(true);
      expect(stdout).toContain('resize-image   img-42 to 640px');
      expect(stdout).toContain('"your thumbnail is ready" (resize-image completed');
      expect(stdout).toContain('A-1: charged 42 on attempt 2');
      expect(stdout).toContain('"order A-1 confirmed" (audit completed: no result)');
      expect(stdout).not.toContain('undefined');
      expect(stdout).toContain('"order B-2 was declined" (charge-card failed: "amount over the limit")');
      expect(stdout).toMatch(/done: 10 deliveries, 4 charge attempts, 1 job\(s\) in the dead-letter store/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
