import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../tools/config/vitest.shared.js';

// Every test here runs the built CLI as processes, dozens per test, beside a server: on a
// loaded two-core machine that takes longer than the shared 20 s.
export default mergeConfig(defineConfig(sharedTestConfig), defineConfig({ test: { testTimeout: 60_000 } }));
