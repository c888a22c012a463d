import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { backupDatabase, checkNodeDatabase, compactDatabase, exportDatabase, openStorage, type Storage } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';

/** Jobs in the database every admin operation here works on. */
const JOBS = 10_000;
/** Jobs in the database the drain's warm-up moves: the full size would add a minute to the case. */
const WARMUP_JOBS = 1_000;
/** One job in this many gets an execution, so that the drain and the export carry some. */
const EXECUTION_EVERY = 10;
/** Pads each job's spec to about 200 bytes of JSON. */
const SPEC_PAD = 'x'.repeat(130);

export interface AdminBenchResults {
  /** Drain beside CreateBatch of the same jobs and single CreateJob calls; items are jobs. */
  drain: Measurement[];
  /** Export and import; items are the rows of the export. */
  rows: Measurement[];
  /** Every operation that reads or writes the whole file, beside copyFileSync; items are MiB of the .db file. */
  bytes: Measurement[];
  /** checkNodeDatabase beside integrity_check alone. */
  check: Measurement[];
  /** Size of the requester database the file operations work on, and of its export. */
  fileMib: number;
  exportMib: number;
}

/**
 * The admin operations of issue 7 on a requester database of 10,000 live jobs, in process with
 * the real store (synchronous=FULL) on the machine's temporary directory. Each beside a baseline
 * in the same run: a drain (three durable commits per group of about a hundred jobs: freeze,
 * copy, removal) beside CreateBatch of the same jobs into a fresh node and single CreateJob
 * calls (one durable commit each); export, import, backup and compact beside fs.copyFileSync of
 * the same file (with and without an fsync); the consistency check beside SQLite's
 * integrity_check alone. Every case runs once unmeasured first; the drain's warm-up moves 1,000 jobs of another node. The drain runs
 * twice per unit of `scale` (the two nodes the measured CreateBatch calls filled), each into a
 * fresh node; the file cases then work on the first target, closed, as the admin tool's are offline.
 */
export async function adminBench(scale: number): Promise<AdminBenchResults> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-admin-'));
  try {
    const storage = openStorage({ dataDir });
    let drain: Measurement[];
    try {
      drain = await drainCase(storage, scale);
    } finally {
      storage.close(); // checkpoints every file: each .db stands alone, as the file operations read it
    }
    const file = path.join(dataDir, 'drained-to-1-requester.db');
    const fileMib = Number((fs.statSync(file).size / 2 ** 20).toFixed(1));
    const work = path.join(dataDir, 'work');
    fs.mkdirSync(work);
    const { rows, bytes, exportMib } = await fileCases(dataDir, file, work, fileMib);
    return { drain, rows, bytes, check: await checkCase(file), fileMib, exportMib };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A job as the drained databases hold it; its spec is about 200 bytes of JSON. */
function job(i: number) {
  return {
    queue: `q${i % 4}`,
    priority: i % 10,
    labels: { shard: `s${i % 16}` },
    state: 'QUEUED' as const,
    spec: { image: 'registry.example/bench:1', args: ['--n', String(i)], env: { PAD: SPEC_PAD } },
  };
}

async function seed(storage: Storage, node: string, count: number): Promise<void> {
  const { jobIds } = await storage.batches.createBatch(node, { jobs: Array.from({ length: count }, (_, i) => job(i)) });
  await addExecutions(storage, node, jobIds);
}

/** One durable commit each; not measured. */
async function addExecutions(storage: Storage, node: string, jobIds: string[]): Promise<void> {
  for (let i = 0; i < jobIds.length; i += EXECUTION_EVERY) {
    await storage.jobStore.createExecution(node, { jobId: jobIds[i]!, computeNodeId: 'compute-1' });
  }
}

async function drainCase(storage: Storage, scale: number): Promise<Measurement[]> {
  const cpu = { concurrency: 1, serverPid: process.pid };
  const results: Measurement[] = [];
  results.push(
    await measure('baseline: store CreateJob, one durable commit per job', { ...cpu, ops: Math.round(1000 * scale), warmup: 100, itemsPerOp: 1 }, (i) =>
      storage.jobStore.createJob('single-creates', job(i)),
    ),
  );
  // The nodes CreateBatch fills are those the drain then empties: the first (the warm-up) is not drained.
  const drains = Math.max(1, Math.round(2 * scale));
  const jobIds: string[][] = [];
  results.push(
    await measure(`baseline: store CreateBatch of the same ${JOBS.toLocaleString('en')} jobs into a fresh node`, { ...cpu, ops: drains, warmup: 1, itemsPerOp: JOBS }, async () => {
      const node = `drained-from-${jobIds.length}`;
      jobIds.push((await storage.batches.createBatch(node, { jobs: Array.from({ length: JOBS }, (_, i) => job(i)) })).jobIds);
    }),
  );
  for (let k = 1; k <= drains; k++) await addExecutions(storage, `drained-from-${k}`, jobIds[k]!);

  await seed(storage, 'drain-warmup', WARMUP_JOBS);
  const warm = await storage.admin.drainNode('drain-warmup', 'drain-warmup-target');
  if (warm.moved !== WARMUP_JOBS) throw new Error(`the warm-up drain moved ${warm.moved} jobs, not ${WARMUP_JOBS}`);
  let next = 1;
  results.push(
    await measure(
      `drainNode: ${JOBS.toLocaleString('en')} live jobs (${JOBS / EXECUTION_EVERY} with an execution) into a fresh node`,
      { ...cpu, ops: drains, warmup: 0, itemsPerOp: JOBS },
      async () => {
        const outcome = await storage.admin.drainNode(`drained-from-${next}`, `drained-to-${next}`);
        next++;
        if (outcome.moved !== JOBS || !outcome.retired) throw new Error(`the drain moved ${outcome.moved} of ${JOBS} jobs`);
      },
    ),
  );
  return results;
}

/**
 * Export (as `jobkeep-admin export -o` writes it: a write stream, waiting on its drain), import
 * (as `jobkeep-admin import` reads it: readline over a read stream) into a fresh database each
 * time, backup and compact, each beside fs.copyFileSync of the same file. Each run writes a new
 * file, removed after it unless the next case reads it; the source stays in the page cache
 * throughout, so every figure is CPU and writes, not reads from the disk.
 */
async function fileCases(dataDir: string, file: string, work: string, fileMib: number) {
  const options = { ops: 3, warmup: 1, concurrency: 1, serverPid: process.pid };
  const copies = { ...options, itemsPerOp: fileMib };
  const bytes: Measurement[] = [];
  let n = 0;
  const dest = () => path.join(work, `copy-${n++}.db`);
  const removing = (write: (to: string) => unknown) => async () => {
    const to = dest();
    await write(to);
    fs.rmSync(to);
  };
  bytes.push(await measure('baseline: fs.copyFileSync of the .db file', { ...copies, ops: 5 }, removing((to) => fs.copyFileSync(file, to))));
  bytes.push(
    await measure(
      'baseline: fs.copyFileSync of the .db file, then fsync',
      { ...copies, ops: 5 },
      removing((to) => {
        fs.copyFileSync(file, to);
        const handle = fs.openSync(to, 'r+');
        fs.fsyncSync(handle);
        fs.closeSync(handle);
      }),
    ),
  );
  bytes.push(await measure('backupDatabase (online backup API, then fsync)', copies, removing((to) => backupDatabase(file, to))));
  bytes.push(await measure('compactDatabase (VACUUM INTO, then fsync)', copies, removing((to) => compactDatabase(file, to))));

  const exportFile = path.join(work, 'export.jsonl');
  const probe = exportDatabase(file);
  const lines = probe.totalRows + 1; // the header, then one line per row
  probe.close();
  const rows: Measurement[] = [];
  rows.push(
    await measure('exportDatabase → JSON lines file (write stream)', { ...options, itemsPerOp: lines }, async () => {
      fs.rmSync(exportFile, { force: true });
      await writeExport(file, exportFile);
    }),
  );
  const storage = openStorage({ dataDir, refreshLeasesAtOpen: false });
  try {
    let imported = 0;
    rows.push(
      await measure('importDatabase ← JSON lines file (readline), into a new database', { ...options, itemsPerOp: lines }, async () => {
        const input = createInterface({ input: fs.createReadStream(exportFile), crlfDelay: Infinity });
        const outcome = await storage.admin.importDatabase(`imported-${imported++}-requester`, input);
        if (outcome.rowsImported !== lines - 1) throw new Error(`imported ${outcome.rowsImported} rows, not ${lines - 1}`);
      }),
    );
  } finally {
    storage.close();
  }
  bytes.push(...rows.map((m) => ({ ...m, itemsPerOp: fileMib })));
  return { rows, bytes, exportMib: fs.statSync(exportFile).size / 2 ** 20 };
}

/** Writes the export of `file` to a new file `to`, as `jobkeep-admin export -o` does. */
export async function writeExport(file: string, to: string): Promise<void> {
  const out = fs.createWriteStream(to, { flags: 'wx' });
  try {
    for (const line of exportDatabase(file).lines()) {
      if (!out.write(`${line}\n`)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
}

/** checkNodeDatabase reads the file whole several times (integrity, foreign keys, counters, revisions). */
async function checkCase(file: string): Promise<Measurement[]> {
  const options = { ops: 5, warmup: 1, concurrency: 1, serverPid: process.pid };
  return [
    await measure('baseline: PRAGMA integrity_check alone, read-only connection', options, async () => {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        const [result] = db.pragma('integrity_check') as { integrity_check: string }[];
        if (result?.integrity_check !== 'ok') throw new Error(`integrity_check: ${result?.integrity_check}`);
      } finally {
        db.close();
      }
    }),
    await measure('checkNodeDatabase (integrity, foreign keys, counters, revisions)', options, async () => {
      const problems = checkNodeDatabase('requester', file);
      if (problems.length > 0) throw new Error(`check found problems: ${problems.map((p) => p.message).join('; ')}`);
    }),
  ];
}
