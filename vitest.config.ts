import { defineConfig } from 'vitest/config';

// Packages resolve each other through the `source` export condition, so tests run on the
// TypeScript sources without a build. Service-backed files run one at a time.
export default defineConfig({
  resolve: { conditions: ['source', 'import', 'default'] },
  ssr: { resolve: { conditions: ['source', 'import', 'default'], externalConditions: ['source'] } },
  test: {
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: ['packages/*', 'examples'],
  },
});
