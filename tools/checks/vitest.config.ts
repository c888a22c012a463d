import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../tools/config/vitest.shared.js';

// These tests run buf and ESLint on the whole workspace: give them more time than unit tests.
export default defineConfig(
  mergeConfig(sharedTestConfig, { test: { testTimeout: 120_000, hookTimeout: 120_000 } }),
);
