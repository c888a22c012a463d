import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, findBinDir, formatReport, runCodegenCheck } from './codegen-check.js';

const workspaceRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const binDir = findBinDir();
const GEN = 'libs/api/src/gen';
const JOB_STORE = 'jobkeep/v1/job_store_pb.ts';

/**
 * A copy of the workspace's proto/ in a temporary directory, with libs/api/src/gen freshly
 * generated from it, so that the check passes on it before a test breaks it. The real tree is
 * never modified.
 */
function makeTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'jobkeep-codegen-test-'));
  cpSync(join(workspaceRoot, 'proto'), join(root, 'proto'), { recursive: true });
  const gen = spawnSync('buf', ['generate', 'proto', '--template', 'proto/buf.gen.yaml'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env['PATH'] ?? ''}` },
  });
  expect(gen.status, gen.stderr).toBe(0);
  return root;
}

describe('codegen check', () => {
  let root: string;
  beforeEach(() => {
    root = makeTree();
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('passes when the committed code is what buf generates', () => {
    const result = runCodegenCheck({ root, binDir });
    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.files).toBeGreaterThanOrEqual(3);
    expect(formatReport(result)).toMatch(/codegen check passed/);
  });

  it('fails, naming the file and the fix, when a generated file was changed', () => {
    appendFileSync(join(root, GEN, JOB_STORE), '// edited by hand\n');
    const result = runCodegenCheck({ root, binDir });
    expect(result.ok).toBe(false);
    expect(result.diff.changed.map((c) => c.file)).toEqual([JOB_STORE]);
    const report = formatReport(result);
    expect(report).toContain(`changed: ${GEN}/${JOB_STORE}`);
    expect(report).toContain('npm run generate');
  });

  it('fails when a generated file is missing', () => {
    unlinkSync(join(root, GEN, JOB_STORE));
    const result = runCodegenCheck({ root, binDir });
    expect(result.ok).toBe(false);
    expect(result.diff.missing).toEqual([JOB_STORE]);
    expect(formatReport(result)).toContain(`missing: ${GEN}/${JOB_STORE}`);
  });

  it('fails when a committed file is no longer generated', () => {
    writeFileSync(join(root, GEN, 'jobkeep/v1/old_pb.ts'), 'export {};\n');
    const result = runCodegenCheck({ root, binDir });
    expect(result.ok).toBe(false);
    expect(result.diff.stale).toEqual(['jobkeep/v1/old_pb.ts']);
    expect(formatReport(result)).toContain(`stale:   ${GEN}/jobkeep/v1/old_pb.ts`);
  });

  it('fails when a .proto changed but the code was not regenerated', () => {
    appendFileSync(join(root, 'proto/jobkeep/v1/types.proto'), '\nmessage AddedLater {\n  string name = 1;\n}\n');
    const result = runCodegenCheck({ root, binDir });
    expect(result.ok).toBe(false);
    expect(result.diff.changed.map((c) => c.file)).toContain('jobkeep/v1/types_pb.ts');
    expect(result.failures.map((f) => f.check)).toEqual(['generate']);
  });

  it('fails on a buf lint violation', () => {
    appendFileSync(join(root, 'proto/jobkeep/v1/types.proto'), '\nmessage bad_name {\n  string name = 1;\n}\n');
    const result = runCodegenCheck({ root, binDir });
    expect(result.ok).toBe(false);
    const lint = result.failures.find((f) => f.check === 'lint');
    expect(lint?.message).toMatch(/bad_name/);
  });

  it('fails on an unformatted .proto', () => {
    appendFileSync(join(root, 'proto/jobkeep/v1/types.proto'), '\n\n\n// trailing   \n');
    const result = runCodegenCheck({ root, binDir });
    expect(result.ok).toBe(false);
    const format = result.failures.find((f) => f.check === 'format');
    expect(format?.message).toMatch(/types\.proto/);
    expect(format?.message).toContain('buf format -w proto');
  });

  it('fails when buf cannot generate at all', () => {
    writeFileSync(join(root, 'proto/jobkeep/v1/broken.proto'), 'syntax = "proto3";\nmessage {\n');
    const result = runCodegenCheck({ root, binDir });
    expect(result.ok).toBe(false);
    expect(result.failures[0]?.check).toBe('generate');
    expect(result.failures[0]?.message).toMatch(/buf generate proto --template proto\/buf.gen.yaml` failed/);
  });
});

describe('compareTrees', () => {
  it('compares byte for byte', () => {
    const a = mkdtempSync(join(tmpdir(), 'jobkeep-tree-a-'));
    const b = mkdtempSync(join(tmpdir(), 'jobkeep-tree-b-'));
    try {
      writeFileSync(join(a, 'same.ts'), 'x\n');
      writeFileSync(join(b, 'same.ts'), 'x\n');
      writeFileSync(join(a, 'crlf.ts'), 'one\ntwo\n');
      writeFileSync(join(b, 'crlf.ts'), 'one\ntwo\r\n');
      expect(compareTrees(a, b)).toEqual({ missing: [], stale: [], changed: [{ file: 'crlf.ts', line: 2 }] });
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
});
