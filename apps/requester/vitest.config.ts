import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../tools/config/vitest.shared.js';

export default defineConfig(sharedTestConfig);
