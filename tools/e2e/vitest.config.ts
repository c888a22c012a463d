import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../tools/config/vitest.shared.js';

// Whole clusters of processes run hundreds of jobs here: minutes, not seconds, and one file at a
// time, so that two clusters do not compete for this machine's two cores.
export default defineConfig({
  ...sharedTestConfig,
  test: { ...sharedTestConfig.test, testTimeout: 300_000, hookTimeout: 60_000, fileParallelism: false },
});
