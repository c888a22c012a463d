import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import type { Storage } from './storage.js';
import { useTempStorage } from './test-support/temp-storage.js';
import { damageRootPage } from './test-support/damaged-page.js';

/** A requester and a compute database with a little of everything, deletes included. */
async function populate(storage: Storage): Promise<{ requester: string; compute: string; executionId: string; jobId: string }> {
  const { jobStore, executionStore } = storage;
  const job = (await jobStore.createJob('node-1', { state: 'QUEUED' })).job;
  await jobStore.updateJobState('node-1', { jobId: job.id, newState: 'RUNNING' });
  await jobStore.createExecution('node-1', { jobId: job.id, computeNodeId: 'node-1' });
  const gone = (await jobStore.createJob('node-1', {})).job;
  await jobStore.updateJobState('node-1', { jobId: gone.id, newState: 'CANCELLED' });
  await jobStore.deleteJob('node-1', gone.id);

  const execution = await executionStore.createExecution('node-1', { jobId: job.id, requesterNodeId: 'node-1' });
  await executionStore.updateExecutionState('node-1', { executionId: execution.id, newState: 'BID_ACCEPTED' });
  await executionStore.updateExecutionState('node-1', { executionId: execution.id, newState: 'RUNNING' });
  const rejected = await executionStore.createExecution('node-1', { jobId: 'j-2', requesterNodeId: 'node-1' });
  await executionStore.updateExecutionState('node-1', { executionId: rejected.id, newState: 'BID_REJECTED' });
  await executionStore.deleteExecution('node-1', rejected.id);
  await storage.checkpointStore.putCheckpoint('node-1', 'compute', { name: 'c', data: new Uint8Array([1]) });
  const dir = storage.locations.dataDir;
  return { requester: path.join(dir, 'node-1-requester.db'), compute: path.join(dir, 'node-1-compute.db'), executionId: execution.id, jobId: job.id };
}

/** Changes a closed file with raw SQL, as a bug or a careless hand might. */
function damage(file: string, sql: string, options: { unsafe?: boolean } = {}): void {
  const db = new Database(file);
  try {
    if (options.unsafe) {
      db.unsafeMode(true);
      db.pragma('writable_schema = ON');
    }
    db.pragma('foreign_keys = OFF');
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('checkNodeDatabase', () => {
  const temp = useTempStorage();

  it('finds nothing wrong with files the stores wrote, open or closed, and changes nothing', async () => {
    const storage = temp.open();
    const { requester, compute } = await populate(storage);
    expect(checkNodeDatabase('requester', requester)).toEqual([]);
    expect(checkNodeDatabase('compute', compute)).toEqual([]);
    storage.close();
    const before = fs.readFileSync(compute);
    expect(checkNodeDatabase('compute', compute)).toEqual([]);
    expect(checkNodeDatabase('requester', requester)).toEqual([]);
    expect(fs.readFileSync(compute).equals(before)).toBe(true);
  });

  it('reports a counter that differs from a count of the rows', async () => {
    const storage = temp.open();
    const { requester, compute } = await populate(storage);
    storage.close();
    damage(compute, `UPDATE execution_state_counts SET count = count + 2 WHERE state = 'RUNNING'`);
    damage(requester, `DELETE FROM job_state_counts WHERE state = 'RUNNING'`);
    expect(checkNodeDatabase('compute', compute)).toEqual([
      { check: 'counters', message: 'execution_state_counts says 3 executions are RUNNING, but 1 are' },
    ]);
    expect(checkNodeDatabase('requester', requester)).toEqual([{ check: 'counters', message: 'job_state_counts says 0 jobs are RUNNING, but 1 are' }]);
  });

  it('reports a record whose revision has no history row about it, unless compaction removed it', async () => {
    const storage = temp.open();
    const { requester, compute, executionId, jobId } = await populate(storage);
    storage.close();
    damage(compute, `UPDATE executions SET revision = revision + 1000 WHERE id = '${executionId}'`);
    expect(checkNodeDatabase('compute', compute)).toEqual([
      { check: 'revisions', message: expect.stringContaining(`execution ${executionId} is at revision`) },
    ]);

    // A history row about another record does not count.
    damage(requester, `UPDATE jobs SET revision = (SELECT max(revision) FROM job_history WHERE job_id <> '${jobId}') WHERE id = '${jobId}'`);
    expect(checkNodeDatabase('requester', requester)).toEqual([{ check: 'revisions', message: expect.stringContaining(`job ${jobId}`) }]);

    damage(requester, `UPDATE store_meta SET value = (SELECT max(revision) FROM job_history) WHERE key = 'compacted_revision'`);
    expect(checkNodeDatabase('requester', requester)).toEqual([]);
  });

  it('reports batch counts that differ from the jobs, and batches completed too early or never', async () => {
    const storage = temp.open();
    const { batch, jobIds } = await storage.batches.createBatch('node-2', { id: 'b-1', jobs: [{ state: 'QUEUED' }, { state: 'QUEUED' }] });
    const other = await storage.batches.createBatch('node-2', { id: 'b-2', jobs: [{}] });
    await storage.jobStore.updateJobState('node-2', { jobId: jobIds[0]!, newState: 'CANCELLED' });
    await storage.jobStore.updateJobState('node-2', { jobId: other.jobIds[0]!, newState: 'CANCELLED' });
    const file = storage.locations.nodeDatabasePath('requester', 'node-2');
    expect(checkNodeDatabase('requester', file)).toEqual([]);
    storage.close();

    damage(file, `UPDATE batch_state_counts SET count = 5 WHERE batch_id = '${batch.id}' AND state = 'QUEUED'`);
    damage(file, `UPDATE batches SET complete_revision = 1 WHERE id = '${batch.id}'`);
    damage(file, `UPDATE batches SET complete_revision = NULL WHERE id = 'b-2'`);
    expect(checkNodeDatabase('requester', file)).toEqual([
      { check: 'counters', message: 'batch_state_counts says batch b-1 has 5 QUEUED jobs, but it has 1' },
      { check: 'batches', message: 'batch b-1 is completed but still has jobs that have not ended' },
      { check: 'batches', message: 'every job of batch b-2 has ended, but the batch was never completed' },
    ]);
  });

  it('reports broken foreign keys and a damaged index', async () => {
    const storage = temp.open();
    const { compute } = await populate(storage);
    storage.close();
    damage(compute, `INSERT INTO execution_specs (execution_id, job_spec) VALUES ('e-orphan', '{}')`);
    expect(checkNodeDatabase('compute', compute)).toEqual([
      { check: 'foreign-keys', message: expect.stringMatching(/of execution_specs refers to a missing row of executions/) },
    ]);
    damage(compute, `UPDATE sqlite_schema SET sql = 'CREATE INDEX executions_by_modify ON executions (job_id, id)' WHERE name = 'executions_by_modify'`, {
      unsafe: true,
    });
    const problems = checkNodeDatabase('compute', compute);
    expect(problems).toContainEqual({ check: 'integrity', message: expect.stringContaining('executions_by_modify') });
  });

  it('reports a damaged page as an integrity problem instead of failing with it', async () => {
    const storage = temp.open();
    for (let index = 0; index < 300; index += 1) await storage.jobStore.createJob('node-3', {});
    const file = storage.locations.nodeDatabasePath('requester', 'node-3');
    storage.close();
    damageRootPage(file, 'jobs');
    // The invariants' queries hit the damaged page too: SQLITE_CORRUPT, which the check reports.
    const problems = checkNodeDatabase('requester', file);
    expect(problems).toContainEqual({ check: 'integrity', message: expect.stringMatching(/2nd reference to page/) });
    expect(problems).toContainEqual({ check: 'integrity', message: 'the check could not read the file: database disk image is malformed' });
    expect(problems.every((problem) => problem.check === 'integrity')).toBe(true);
  });

  it('reports a schema version it does not know instead of guessing at the tables', async () => {
    const storage = temp.open();
    const { compute } = await populate(storage);
    storage.close();
    damage(compute, 'PRAGMA user_version = 99');
    expect(checkNodeDatabase('compute', compute)).toEqual([{ check: 'schema', message: expect.stringContaining('schema version 99') }]);
  });
});
