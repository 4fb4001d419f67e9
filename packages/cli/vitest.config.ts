import { defineProject } from 'vitest/config';

// No `import` condition: pg's CommonJS build would then load pg-pool's ESM build through require()
// and fail ("Class extends value [object Module]"). The tests run the binary in child processes,
// one file at a time since they share the Redis and PostgreSQL servers.
const conditions = ['source', 'module', 'node', 'default'];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: { name: 'cli', include: ['test/**/*.test.ts'], fileParallelism: false, testTimeout: 60_000, hookTimeout: 120_000 },
});
