// Shared ESLint flat config for every jobkeep project.
//
// The repository keeps no eslint.config at its root: each project has a two-line
// eslint.config.mjs that re-exports this array (and may append project-only entries, as
// libs/api does to ignore its generated code). ESLint 10 looks a file's config up from the
// file's own directory, so `eslint .` in a project and `eslint libs/x/src/y.ts` from the root
// use the same rules.
//
// Module boundaries (DESIGN.md §3) are enforced on the Nx project tags set in each project's
// package.json "nx" section:
//   type:app | type:lib | type:tool       what the project is
//   scope:shared | api | store | client | server | agent | admin | testing | tools   which layer it belongs to
// Every project is matched by at least one constraint through its type:* tag; a project without
// one may depend on nothing.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/** Packages that speak gRPC or protobuf: libs/store and libs/errors must not import them. */
export const GRPC_AND_PROTOBUF_PACKAGES = [
  '@grpc/*',
  'grpc-health-check',
  'grpc-health-check/*',
  'grpc-js-reflection-client',
  '@bufbuild/*',
];

/** The tag rules of `@nx/enforce-module-boundaries`. Every constraint whose sourceTag a project has must hold. */
export const depConstraints = [
  // Apps depend on libraries only: never on another app, never on tools.
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  // Libraries depend on libraries only.
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  // Tools may use libraries, never apps.
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },

  // The node agents (apps/requester, apps/compute) reach jobkeep through libs/client only, as any
  // agent would: never the store, never the server.
  { sourceTag: 'scope:agent', notDependOnLibsWithTags: ['scope:store', 'scope:server'] },

  // libs/errors: depends on no project, and stays free of gRPC so that libs/store may use it.
  {
    sourceTag: 'scope:shared',
    onlyDependOnLibsWithTags: [],
    bannedExternalImports: GRPC_AND_PROTOBUF_PACKAGES,
  },
  // libs/store: SQLite behind interfaces; knows nothing of gRPC or protobuf, not even through
  // another project (checkNestedExternalImports below).
  {
    sourceTag: 'scope:store',
    onlyDependOnLibsWithTags: ['scope:shared'],
    notDependOnLibsWithTags: ['scope:api', 'scope:client', 'scope:server'],
    bannedExternalImports: GRPC_AND_PROTOBUF_PACKAGES,
  },
  // libs/api: generated code and the grpc-js bridge; only the errors library below it.
  { sourceTag: 'scope:api', onlyDependOnLibsWithTags: ['scope:shared'] },
  // libs/client: what agents import.
  { sourceTag: 'scope:client', onlyDependOnLibsWithTags: ['scope:api', 'scope:shared'] },
  // apps/server: wires every library together (libs/testing in its tests only).
  {
    sourceTag: 'scope:server',
    onlyDependOnLibsWithTags: ['scope:shared', 'scope:api', 'scope:store', 'scope:client', 'scope:testing'],
  },
  // apps/admin: the jobkeep-admin CLI, live through gRPC (api, client) or offline on the files
  // themselves (store); libs/testing in its tests only.
  {
    sourceTag: 'scope:admin',
    onlyDependOnLibsWithTags: ['scope:shared', 'scope:api', 'scope:store', 'scope:client', 'scope:testing'],
  },
  // libs/testing: launches built apps as processes; it imports none of them.
  { sourceTag: 'scope:testing', onlyDependOnLibsWithTags: [] },
];

const boundaryOptions = {
  enforceBuildableLibDependency: false,
  allowCircularSelfDependency: false,
  checkNestedExternalImports: true,
  depConstraints,
};

const sourceFiles = ['**/*.ts', '**/*.mts', '**/*.cts', '**/*.js', '**/*.mjs', '**/*.cjs'];

export default defineConfig(
  {
    // Build output, Nx's cache, coverage reports and generated protobuf-es code are not linted.
    // (libs/api/eslint.config.mjs also ignores its src/gen/, relative to itself.)
    ignores: ['**/dist/**', '**/.nx/**', '**/coverage/**', '**/node_modules/**', '**/src/gen/**'],
  },
  {
    files: sourceFiles,
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
    },
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaryOptions],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // A project's own config files (eslint.config.mjs, vitest.config.ts at its root) may import
    // the shared configs in tools/config, which belongs to no project. Nothing else may.
    files: ['*.config.ts', '*.config.mts', '*.config.mjs', '*.config.js'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { ...boundaryOptions, allow: ['../../tools/config/*'] },
      ],
    },
  },
);
