import type { ViteUserConfig } from 'vitest/config';

// Workspace libraries are resolved to their TypeScript sources (the "jobkeep-source" export
// condition), so tests never need a build of the libraries they import.
const conditions = ['jobkeep-source', 'node', 'import', 'default'];

export const sharedTestConfig: ViteUserConfig = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
};
