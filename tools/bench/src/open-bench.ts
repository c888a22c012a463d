import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openStorage } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';

export const BIG_NODE = 'compute-big';
const STATES = ['CREATED', 'BID_ACCEPTED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

/**
 * Restart recovery on a compute database of `executions` executions: how long it takes a fresh
 * store to open the file and know the executions per state (from the counters table), beside
 * the scan that a store without counters makes at start-up (a GROUP BY over every row).
 */
export async function openBench(executions: number): Promise<{ results: Measurement[]; fileMb: number }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-open-'));
  try {
    const file = await makeComputeDatabase(dataDir, executions);

    const results: Measurement[] = [];
    results.push(
      await measure(`open a store, first GetCounters (${executions.toLocaleString('en')} executions)`, { ops: 20, warmup: 2, concurrency: 1 }, async () => {
        const storage = openStorage({ dataDir });
        const counters = await storage.executionStore.getCounters(BIG_NODE);
        storage.close();
        if (Object.values(counters.counts).reduce((a, b) => a + b, 0) !== executions + 1) throw new Error('counters are off');
      }),
    );
    results.push(
      await measure('baseline: count by state with a scan (GROUP BY over the state index)', { ops: 5, warmup: 1, concurrency: 1 }, async () => {
        const db = new Database(file, { readonly: true });
        db.prepare('SELECT state, count(*) FROM executions GROUP BY state').all();
        db.close();
      }),
    );
    results.push(
      await measure('baseline: read every execution at start-up, as a store without counters does', { ops: 3, warmup: 1, concurrency: 1 }, async () => {
        const db = new Database(file, { readonly: true });
        const counts = new Map<string, number>();
        for (const row of db.prepare('SELECT e.*, s.job_spec FROM executions e JOIN execution_specs s ON s.execution_id = e.id').iterate()) {
          const { state } = row as { state: string };
          counts.set(state, (counts.get(state) ?? 0) + 1);
        }
        db.close();
      }),
    );
    return { results, fileMb: fs.statSync(file).size / 2 ** 20 };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Makes `dataDir` hold the compute database of node `compute-big` with `executions` executions
 * and one more (the seed, created through the store so that the file and the catalogue are
 * as jobkeep makes them); returns the file's path.
 */
export async function makeComputeDatabase(dataDir: string, executions: number): Promise<string> {
  const seed = openStorage({ dataDir });
  await seed.executionStore.createExecution(BIG_NODE, { jobId: 'j-seed', requesterNodeId: 'requester-1' });
  seed.close();
  const file = path.join(dataDir, `${BIG_NODE}-compute.db`);
  fillExecutions(file, executions);
  return file;
}

/**
 * Bulk-loads executions and their history rows with SQL alone: the point is the file, not the
 * load. The seed execution took revision 1, so execution i's creation is revision i + 1.
 */
function fillExecutions(file: string, count: number): void {
  const db = new Database(file);
  db.pragma('synchronous = OFF');
  const states = STATES.map((state) => `'${state}'`).join(', ');
  db.transaction(() => {
    db.exec(`
      CREATE TEMP TABLE numbers AS
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count}) SELECT i FROM n;
      INSERT INTO execution_history (execution_id, job_id, type, previous_state, new_state, message, time)
        SELECT 'e-' || i, 'j-' || (i % 10000), 'CREATED', '', 'CREATED', '', 1700000000000 + i FROM numbers;
      INSERT INTO executions (id, job_id, requester_node_id, state, state_message, revision, create_time, modify_time)
        SELECT 'e-' || i, 'j-' || (i % 10000), 'requester-' || (i % 7),
               json_extract(json_array(${states}), '$[' || (i % ${STATES.length}) || ']'),
               '', i + 1, 1700000000000 + i, 1700000000000 + i
        FROM numbers;
      INSERT INTO execution_specs (execution_id, job_spec) SELECT 'e-' || i, '{"image":"bench:1"}' FROM numbers;
    `);
  })();
  db.close();
}
