import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../tools/config/vitest.shared.js';

// The short crash run starts and kills a server process twenty-odd times: a minute or so, not
// seconds, and alone on this machine's two cores.
export default defineConfig({
  ...sharedTestConfig,
  test: { ...sharedTestConfig.test, testTimeout: 240_000, hookTimeout: 60_000, fileParallelism: false },
});
