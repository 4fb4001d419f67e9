import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['source', 'import', 'default'] },
  ssr: { resolve: { conditions: ['source', 'import', 'default'], externalConditions: ['source'] } },
  test: { name: 'jobs', include: ['test/**/*.test.ts'], fileParallelism: false },
});
