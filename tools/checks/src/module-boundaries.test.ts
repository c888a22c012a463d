/**
 * Proves that the module-boundary rules of tools/config/eslint.base.mjs really fire in this
 * workspace: projects are npm workspaces imported by package name (`@jobkeep/api`), which Nx
 * must resolve to the project and its tags. Each case lints a snippet as if it were a file of
 * a project, with that project's own eslint.config.mjs.
 */
import { createProjectGraphAsync, readCachedProjectGraph, workspaceRoot } from '@nx/devkit';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const RULE = '@nx/enforce-module-boundaries';
let eslint: ESLint;

/** The boundary-rule messages ESLint reports for `code` as the file at filePath. */
async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  if (!result) throw new Error(`no lint result for ${filePath}`);
  const fatal = result.messages.filter((m) => m.fatal);
  expect(fatal, `${filePath} did not parse`).toEqual([]);
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

beforeAll(async () => {
  // The rule reads Nx's cached project graph and silently skips when there is none: make sure
  // it exists (nx writes it on every run; a bare `vitest` in a fresh clone may come first).
  try {
    readCachedProjectGraph();
  } catch {
    await createProjectGraphAsync({ exitOnError: false });
  }
  eslint = new ESLint({ cwd: workspaceRoot });
});

describe('libs/store knows nothing of gRPC, protobuf or the API', () => {
  const file = 'libs/store/src/x.ts';

  it('reports @grpc/grpc-js', async () => {
    const errors = await boundaryErrors(file, `import { status } from '@grpc/grpc-js';\nexport const s = status;\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/scope:store.*not allowed to import.*@grpc\/grpc-js/);
  });

  it('reports @bufbuild/protobuf and its subpaths', async () => {
    const errors = await boundaryErrors(
      file,
      `import { create } from '@bufbuild/protobuf';\nimport { timestampNow } from '@bufbuild/protobuf/wkt';\nexport { create, timestampNow };\n`,
    );
    expect(errors).toHaveLength(2);
  });

  it('reports grpc-health-check', async () => {
    const errors = await boundaryErrors(file, `import 'grpc-health-check';\n`);
    expect(errors).toHaveLength(1);
  });

  it('reports @jobkeep/api, even a type-only import', async () => {
    expect(await boundaryErrors(file, `export * from '@jobkeep/api';\n`)).toHaveLength(1);
    const typeOnly = await boundaryErrors(file, `import type { X } from '@jobkeep/api';\nexport type Y = X;\n`);
    expect(typeOnly).toHaveLength(1);
    expect(typeOnly[0]).toMatch(/scope:store/);
  });

  it('reports @jobkeep/client and the server app', async () => {
    expect(await boundaryErrors(file, `export * from '@jobkeep/client';\n`)).toHaveLength(1);
    expect(await boundaryErrors(file, `export * from '@jobkeep/server';\n`)).toHaveLength(1);
  });

  it('reports a relative import into another project', async () => {
    const errors = await boundaryErrors(file, `export * from '../../api/src/index.js';\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/relative or absolute path/);
  });

  it('allows @jobkeep/errors and SQLite', async () => {
    expect(
      await boundaryErrors(
        file,
        `import Database from 'better-sqlite3';\nimport { StatusCode } from '@jobkeep/errors';\nexport { Database, StatusCode };\n`,
      ),
    ).toEqual([]);
  });
});

describe('libs/errors depends on nothing', () => {
  it('reports any workspace library and gRPC', async () => {
    const file = 'libs/errors/src/x.ts';
    expect(await boundaryErrors(file, `export * from '@jobkeep/store';\n`)).toHaveLength(1);
    expect(await boundaryErrors(file, `export * from '@jobkeep/api';\n`)).toHaveLength(1);
    expect(await boundaryErrors(file, `export { status } from '@grpc/grpc-js';\n`)).toHaveLength(1);
  });
});

describe('libs/api and libs/client', () => {
  it('libs/api may use errors, not store or client', async () => {
    const file = 'libs/api/src/x.ts';
    expect(await boundaryErrors(file, `export * from '@jobkeep/errors';\n`)).toEqual([]);
    expect(await boundaryErrors(file, `export { status } from '@grpc/grpc-js';\n`)).toEqual([]);
    expect(await boundaryErrors(file, `export * from '@jobkeep/store';\n`)).toHaveLength(1);
    expect(await boundaryErrors(file, `export * from '@jobkeep/client';\n`)).toHaveLength(1);
  });

  it('libs/client may use api and errors, not store nor an app', async () => {
    const file = 'libs/client/src/x.ts';
    expect(await boundaryErrors(file, `export * from '@jobkeep/api';\nexport * from '@jobkeep/errors';\n`)).toEqual([]);
    expect(await boundaryErrors(file, `export * from '@jobkeep/store';\n`)).toHaveLength(1);
    const app = await boundaryErrors(file, `export * from '@jobkeep/server';\n`);
    expect(app).toHaveLength(1);
    expect(app[0]).toMatch(/[Aa]pp/);
  });
});

describe('apps/server', () => {
  const file = 'apps/server/src/x.ts';

  it('may import every library and gRPC', async () => {
    expect(
      await boundaryErrors(
        file,
        [
          `export * from '@jobkeep/api';`,
          `export * from '@jobkeep/store';`,
          `export * from '@jobkeep/errors';`,
          `export * from '@jobkeep/client';`,
          `export { Server } from '@grpc/grpc-js';`,
          `export { HealthImplementation } from 'grpc-health-check';`,
          '',
        ].join('\n'),
      ),
    ).toEqual([]);
  });
});

describe('the shared config', () => {
  it('does not lint the generated protobuf-es code', async () => {
    expect(await eslint.isPathIgnored('libs/api/src/gen/jobkeep/v1/types_pb.ts')).toBe(true);
    expect(await eslint.isPathIgnored('libs/store/dist/index.js')).toBe(true);
    expect(await eslint.isPathIgnored('libs/store/src/index.ts')).toBe(false);
  });

  it('applies typescript-eslint recommended rules', async () => {
    const [result] = await eslint.lintText(`export const x: any = 1;\n`, { filePath: 'libs/store/src/x.ts' });
    expect(result?.messages.map((m) => m.ruleId)).toContain('@typescript-eslint/no-explicit-any');
  });
});
