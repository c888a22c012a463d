import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage } from '@jobkeep/store';
import { writeExport } from './admin-bench.js';

const CHILD = fileURLToPath(new URL('./import-memory-child.js', import.meta.url));
/** Jobs in the exported database; each makes four rows (job, spec, label, history). */
const JOBS = Number(process.env.JOBKEEP_BENCH_IMPORT_JOBS ?? '100000');

export interface ImportMemoryRun {
  name: string;
  rows: number;
  seconds: number;
  peakRssMib: number;
}

export interface ImportMemoryResults {
  runs: ImportMemoryRun[];
  markdown: string;
}

/**
 * Peak memory of `importDatabase` on a large export, each run in a fresh process: beside the
 * floor of any reader (readline over the same file, lines dropped), for one export and for one
 * twice its size, so that a memory that grew with the export would show. A warm-up run of
 * each kind comes first, unrecorded.
 */
export async function importMemoryBench(): Promise<ImportMemoryResults> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-import-'));
  try {
    const small = path.join(dir, 'export.jsonl');
    await exportJobs(path.join(dir, 'source'), JOBS, small);
    const large = path.join(dir, 'export-2x.jsonl');
    await exportJobs(path.join(dir, 'source-2x'), 2 * JOBS, large);
    let n = 0;
    const run = (name: string, args: string[]): ImportMemoryRun => ({
      name,
      ...(JSON.parse(execFileSync(process.execPath, [CHILD, ...args], { encoding: 'utf8' })) as Omit<ImportMemoryRun, 'name'>),
    });
    const importInto = (file: string) => ['import', file, path.join(dir, `target-${n++}`)];
    run('warm-up', ['read', small]);
    run('warm-up', importInto(small));
    const runs = [
      run(`baseline: readline over the export of ${JOBS.toLocaleString('en')} jobs, lines dropped`, ['read', small]),
      run(`importDatabase of the export of ${JOBS.toLocaleString('en')} jobs`, importInto(small)),
      run(`baseline: readline over the export of ${(2 * JOBS).toLocaleString('en')} jobs, lines dropped`, ['read', large]),
      run(`importDatabase of the export of ${(2 * JOBS).toLocaleString('en')} jobs`, importInto(large)),
    ];
    const mib = (file: string) => fs.statSync(file).size / 2 ** 20;
    const markdown = [
      `## Admin: peak memory of an import, each run in a process of its own (exports of ${mib(small).toFixed(0)} and ${mib(large).toFixed(0)} MiB)`,
      '',
      '| run | rows | seconds | rows/s | peak RSS MiB |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...runs.map((r) => `| ${r.name} | ${r.rows} | ${r.seconds.toFixed(1)} | ${Math.round(r.rows / r.seconds)} | ${r.peakRssMib.toFixed(0)} |`),
    ].join('\n');
    return { runs, markdown };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A requester database of `jobs` queued jobs, made with CreateBatch, exported to `to`. */
async function exportJobs(dataDir: string, jobs: number, to: string): Promise<void> {
  const storage = openStorage({ dataDir, durability: 'power-loss-may-lose-writes' });
  try {
    for (let made = 0; made < jobs; made += 1000) {
      const batch = Array.from({ length: Math.min(1000, jobs - made) }, (_, i) => ({
        labels: { shard: `s${i % 8}` },
        state: 'QUEUED' as const,
        spec: { image: 'bench:1', args: ['--n', String(made + i)] },
      }));
      await storage.batches.createBatch('source', { jobs: batch });
    }
  } finally {
    storage.close();
  }
  await writeExport(path.join(dataDir, 'source-requester.db'), to);
}
