import { defineProject } from 'vitest/config';

// No `import` condition here: pg's CommonJS build would then load pg-pool's ESM build through
// require() and fail ("Class extends value [object Module]").
const conditions = ['source', 'module', 'node', 'default'];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: { name: 'driver-database', include: ['test/**/*.test.ts'], fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 },
});
