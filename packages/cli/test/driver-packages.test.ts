import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

// Stands in for an installation without the driver packages: every package lookup finds nothing.
vi.mock('../src/config/import-module.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/config/import-module.js')>()),
  importPackage: async () => undefined,
}));

const { backendDefinition } = await import('../src/config/backends.js');
const { CliError } = await import('../src/cli-error.js');
const { BACKEND_PACKAGES } = await import('../src/config/backends.js');

const ctx = { file: '/app/queue.config.mjs', label: 'queue.config.mjs', dir: '/app', key: 'connections.main', loadJobs: async () => [] };

describe('a connection whose driver package is not installed', () => {
  it.each([
    ['redis', '@queuekit/driver-redis'],
    ['servicebus', '@queuekit/driver-servicebus'],
    ['sqlite', '@queuekit/driver-database'],
    ['postgres', '@queuekit/driver-database'],
    ['sync', '@queuekit/driver-sync'],
  ] as const)('%s names the package to install', async (driver, pkg) => {
    const definition = backendDefinition({ driver, url: driver === 'postgres' ? 'postgres://x/y' : undefined } as never, ctx);
    const error = await Promise.resolve()
      .then(() => definition.create())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toBe(
      `queue.config.mjs: connections.main.driver: "${driver}" needs the package ${pkg}, which is not installed: install it (npm install ${pkg})`,
    );
  });
});

describe('package.json', () => {
  it('declares every driver package the CLI loads at run time, and tsx, as optional peer dependencies', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    // The memory driver ships in @queuekit/core/testing, a real dependency.
    const loaded = [...new Set(Object.values(BACKEND_PACKAGES))].filter((pkg) => !pkg.startsWith('@queuekit/core'));
    for (const pkg of [...loaded, 'tsx']) {
      expect(manifest.peerDependencies?.[pkg], pkg).toEqual(expect.any(String));
      expect(manifest.peerDependenciesMeta?.[pkg], pkg).toEqual({ optional: true });
      expect(manifest.dependencies[pkg], pkg).toBeUndefined();
    }
    expect(manifest.dependencies['@queuekit/core']).toBeDefined();
  });
});
