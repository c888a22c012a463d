import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStorage, type Storage } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';

/** Jobs already in the database when each measurement starts, so that its indexes are deep. */
const PREFILL = Number(process.env.JOBKEEP_BENCH_ID_PREFILL ?? '100000');
const BATCH_JOBS = 1_000;

/**
 * The ids that key jobs, specs, labels and history, side by side in one run: random ones (the
 * ids jobkeep made before, which a caller may still choose) against the time-ordered ones the
 * store makes now. Random keys land on a different leaf page of every index they key; ordered
 * ones append at the right edge. Each scheme gets its own database, filled the same way first.
 */
export async function idOrderBench(scale: number): Promise<Measurement[]> {
  const schemes: { label: string; id: () => string | undefined }[] = [
    { label: 'random ids (baseline: chosen by the caller)', id: () => `j-${randomUUID()}` },
    { label: 'time-ordered ids (made by the store)', id: () => undefined },
  ];
  const results: Measurement[] = [];
  for (const scheme of schemes) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-ids-'));
    const storage = openStorage({ dataDir });
    try {
      const job = (i: number) => ({ id: scheme.id(), labels: { shard: `s${i % 8}` }, spec: { image: 'bench:1', args: ['--n', String(i)] } });
      await fill(storage, job);
      results.push(
        await measure(`store createJob, 64 in flight, ${PREFILL.toLocaleString('en')} jobs before, ${scheme.label}`, { ops: 20_000 * scale, warmup: 2_000, concurrency: 64, serverPid: process.pid }, (i) =>
          storage.jobStore.createJob('ids', { ...job(i), state: 'QUEUED' }),
        ),
      );
      results.push(
        await measure(
          `store createBatch of ${BATCH_JOBS} jobs, 1 in flight, ${scheme.label}`,
          { ops: 20 * scale, warmup: 3, concurrency: 1, serverPid: process.pid, itemsPerOp: BATCH_JOBS },
          (b) => storage.batches.createBatch('ids', { jobs: Array.from({ length: BATCH_JOBS }, (_, k) => job(b * BATCH_JOBS + k)) }),
        ),
      );
    } finally {
      storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return results;
}

async function fill(storage: Storage, job: (i: number) => { id: string | undefined }): Promise<void> {
  for (let start = 0; start < PREFILL; start += BATCH_JOBS) {
    await storage.batches.createBatch('ids', { jobs: Array.from({ length: Math.min(BATCH_JOBS, PREFILL - start) }, (_, k) => job(start + k)) });
  }
}
