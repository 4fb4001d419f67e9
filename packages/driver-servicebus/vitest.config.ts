import { defineProject } from 'vitest/config';

// Without the 'import' condition of the other packages: @azure/service-bus is CommonJS and
// require()s `long`, whose 'import' build (ESM) has no named exports for it.
export default defineProject({
  resolve: { conditions: ['source', 'default'] },
  ssr: { resolve: { conditions: ['source', 'default'], externalConditions: ['source'] } },
  test: { name: 'driver-servicebus', include: ['test/**/*.test.ts'], fileParallelism: false },
});
