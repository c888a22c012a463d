/**
 * The codegen check: the protobuf-es code committed in libs/api/src/gen must be exactly what
 * `buf generate` makes from proto/ today, and proto/ must pass `buf lint` and `buf format`.
 *
 * It regenerates into a temporary directory (`buf generate ... -o <tmp>` writes each plugin's
 * `out:` path below <tmp>), so it never touches the working tree, then compares the two trees
 * byte for byte: a file added, removed or changed is a failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIX_GENERATED = 'npm run generate';

export interface CodegenCheckOptions {
  /** Directory the buf commands run in: the workspace root, or a copy of it in a test. */
  root: string;
  /** The buf module directory, relative to root. */
  protoDir?: string;
  /** The buf.gen.yaml template, relative to root. */
  template?: string;
  /** The template's plugin output directory (its `out:`), relative to root. */
  outDir?: string;
  /** A directory holding the `buf` and `protoc-gen-es` executables (node_modules/.bin). */
  binDir?: string;
}

export interface TreeDiff {
  /** Files buf generates that are missing from the committed tree. */
  missing: string[];
  /** Committed files buf no longer generates. */
  stale: string[];
  /** Files whose committed bytes differ from the generated ones, with the first differing line. */
  changed: { file: string; line: number }[];
}

export interface CheckFailure {
  check: 'generate' | 'lint' | 'format';
  message: string;
}

export interface CodegenCheckResult {
  ok: boolean;
  /** Number of generated files compared. */
  files: number;
  diff: TreeDiff;
  failures: CheckFailure[];
}

/** Lists the files below dir, as '/'-separated paths relative to dir, sorted. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

function firstDifferentLine(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let line = 1;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return line;
    if (a[i] === 0x0a) line++;
  }
  return line;
}

/** Compares the generated tree with the committed one, byte for byte. */
export function compareTrees(generatedDir: string, committedDir: string): TreeDiff {
  const generated = listFiles(generatedDir);
  const committed = listFiles(committedDir);
  const committedSet = new Set(committed);
  const generatedSet = new Set(generated);
  const diff: TreeDiff = {
    missing: generated.filter((f) => !committedSet.has(f)),
    stale: committed.filter((f) => !generatedSet.has(f)),
    changed: [],
  };
  for (const file of generated) {
    if (!committedSet.has(file)) continue;
    const want = readFileSync(join(generatedDir, file));
    const have = readFileSync(join(committedDir, file));
    if (!want.equals(have)) diff.changed.push({ file, line: firstDifferentLine(want, have) });
  }
  return diff;
}

/** Finds node_modules/.bin holding `buf`, walking up from this file. */
export function findBinDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '.bin');
    if (existsSync(join(candidate, 'buf'))) return candidate;
    if (dirname(dir) === dir) {
      throw new Error(`cannot find node_modules/.bin/buf above ${start}: run \`npm install\``);
    }
  }
}

interface RunResult {
  status: number;
  output: string;
}

function runBuf(args: string[], cwd: string, binDir: string): RunResult {
  const result = spawnSync('buf', args, {
    cwd,
    encoding: 'utf8',
    // protoc-gen-es must be on PATH for `buf generate`.
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env['PATH'] ?? ''}` },
  });
  if (result.error) throw result.error;
  return {
    status: result.status ?? 1,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim(),
  };
}

const indent = (text: string): string =>
  text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');

export function runCodegenCheck(options: CodegenCheckOptions): CodegenCheckResult {
  const root = options.root;
  const protoDir = options.protoDir ?? 'proto';
  const template = options.template ?? `${protoDir}/buf.gen.yaml`;
  const outDir = options.outDir ?? 'libs/api/src/gen';
  const binDir = options.binDir ?? findBinDir();
  const failures: CheckFailure[] = [];
  let diff: TreeDiff = { missing: [], stale: [], changed: [] };
  let files = 0;

  const tmp = mkdtempSync(join(tmpdir(), 'jobkeep-codegen-check-'));
  try {
    const generateCommand = `buf generate ${protoDir} --template ${template}`;
    const gen = runBuf(['generate', protoDir, '--template', template, '-o', tmp], root, binDir);
    if (gen.status !== 0) {
      failures.push({
        check: 'generate',
        message: `\`${generateCommand}\` failed (exit ${gen.status}):\n${indent(gen.output)}`,
      });
    } else {
      const generatedDir = join(tmp, outDir);
      const outside = listFiles(tmp).filter((f) => !f.startsWith(`${outDir}/`));
      if (!existsSync(generatedDir) || !statSync(generatedDir).isDirectory()) {
        failures.push({
          check: 'generate',
          message: `\`${generateCommand}\` wrote nothing to ${outDir}: is that still the template's \`out:\`?`,
        });
      } else if (outside.length > 0) {
        failures.push({
          check: 'generate',
          message:
            `\`${generateCommand}\` wrote files outside ${outDir}, which this check does not compare:\n` +
            outside.map((f) => `    ${f}`).join('\n'),
        });
      }
      diff = compareTrees(generatedDir, join(root, outDir));
      files = listFiles(generatedDir).length;
      const lines: string[] = [];
      for (const { file, line } of diff.changed) {
        lines.push(`    changed: ${outDir}/${file} (first difference at line ${line})`);
      }
      for (const file of diff.missing) lines.push(`    missing: ${outDir}/${file} (buf generates it; it is not committed)`);
      for (const file of diff.stale) lines.push(`    stale:   ${outDir}/${file} (committed, but buf no longer generates it)`);
      if (lines.length > 0) {
        failures.push({
          check: 'generate',
          message:
            `${outDir} is not what \`${generateCommand}\` generates from ${protoDir}/:\n` +
            `${lines.join('\n')}\n` +
            `  Fix: run \`${FIX_GENERATED}\` and commit ${outDir}. Never edit generated files by hand.`,
        });
      }
    }

    const lint = runBuf(['lint', protoDir], root, binDir);
    if (lint.status !== 0) {
      failures.push({
        check: 'lint',
        message: `\`buf lint ${protoDir}\` failed (exit ${lint.status}):\n${indent(lint.output)}\n  Fix the .proto files above.`,
      });
    }

    const format = runBuf(['format', '-d', '--exit-code', protoDir], root, binDir);
    if (format.status !== 0) {
      failures.push({
        check: 'format',
        message:
          `\`buf format -d --exit-code ${protoDir}\` found unformatted files (exit ${format.status}):\n` +
          `${indent(format.output)}\n  Fix: run \`npx buf format -w ${protoDir}\`.`,
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { ok: failures.length === 0, files, diff, failures };
}

/** The report printed by the CLI. */
export function formatReport(result: CodegenCheckResult, outDir = 'libs/api/src/gen'): string {
  if (result.ok) {
    return `codegen check passed: ${result.files} generated files in ${outDir} match buf generate; buf lint and buf format are clean.`;
  }
  return [
    `codegen check FAILED (${result.failures.length} problem${result.failures.length === 1 ? '' : 's'}):`,
    ...result.failures.map((f) => `\n[${f.check}] ${f.message}`),
  ].join('\n');
}
