import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openStorage } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';

/**
 * The store on its own, in this process: what one synchronous transaction per write costs with
 * synchronous=FULL, and what a filtered keyset page costs on a database of many jobs. The
 * baselines are the floor SQLite itself sets on the same disk: one bare 200-byte row per durable
 * transaction, and a bare read by primary key.
 */
export async function storeBench(scale: number): Promise<Measurement[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-store-'));
  const storage = openStorage({ dataDir });
  const { jobStore } = storage;
  const node = 'store-bench';
  try {
    const results: Measurement[] = [await bareInsertBaseline(dataDir, scale)];
    const ids: string[] = [];
    results.push(
      await measure('store createJob (one durable transaction each)', { ops: 5000 * scale, warmup: 500, concurrency: 1 }, async (i) => {
        const job = (await jobStore.createJob(node, { queue: `q${i % 10}`, labels: { shard: `s${i % 16}` }, state: 'QUEUED', spec: { n: i } })).job;
        ids.push(job.id);
      }),
    );
    results.push(
      await measure('store updateJobState QUEUED→RUNNING', { ops: 2000 * scale, warmup: 0, concurrency: 1 }, (i) =>
        jobStore.updateJobState(node, { jobId: ids[i]!, newState: 'RUNNING', expectedStates: ['QUEUED'] }),
      ),
    );
    results.push(
      await measure('store getJob by id', { ops: 20000 * scale, warmup: 1000, concurrency: 1 }, (i) =>
        jobStore.getJob(node, { id: ids[i % ids.length]! }),
      ),
    );
    results.push(
      await measure('store listJobs: queue + label filter, page of 100', { ops: 2000 * scale, warmup: 200, concurrency: 1 }, (i) =>
        jobStore.listJobs(node, { queue: `q${i % 10}`, labelSelector: { shard: `s${(i % 8) * 2}` }, pageSize: 100 }),
      ),
    );
    return results;
  } finally {
    storage.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function bareInsertBaseline(dataDir: string, scale: number): Promise<Measurement> {
  const db = new Database(path.join(dataDir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
  const body = 'x'.repeat(200);
  try {
    return await measure('baseline: bare SQLite insert, one durable transaction each', { ops: 5000 * scale, warmup: 500, concurrency: 1 }, async () =>
      insert.run(body),
    );
  } finally {
    db.close();
  }
}
