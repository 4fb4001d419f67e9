import { defineProject } from 'vitest/config';

// Same conditions as the CLI's tests: pg's CommonJS build must not be loaded through `import`.
// Browser tests share one Chromium and the real servers, so files run one at a time.
const conditions = ['source', 'module', 'node', 'default'];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: { name: 'dashboard', include: ['test/**/*.test.ts'], fileParallelism: false, testTimeout: 60_000, hookTimeout: 120_000 },
});
