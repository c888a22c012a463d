import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import { requesterMigrations } from './requester-schema.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'req-1';

describe('the requester schema', () => {
  const temp = useTempStorage();

  it('moves a file made before the partial indexes onto them, and its queries still find every row', async () => {
    let storage = temp.open();
    const { batch, jobIds } = await storage.batches.createBatch(NODE, { jobs: [{ state: 'PENDING' }, { state: 'QUEUED' }] });
    const { job } = await storage.jobStore.createJob(NODE, { state: 'PENDING' });
    const execution = await storage.jobStore.createExecution(NODE, { jobId: job.id, computeNodeId: 'cmp-1' });
    await storage.jobStore.updateExecution(NODE, { executionId: execution.id, computeState: 'RUNNING' });
    const history = (await storage.jobStore.getJobHistory(NODE, { executionId: execution.id, pageSize: 10 })).items;
    const file = storage.locations.nodeDatabasePath('requester', NODE);
    storage.close();

    // The file as schema version 4 left it: both indexes over every row, none of completed
    // batches, and request ids by their key alone.
    const raw = new Database(file);
    raw.exec(`
      DROP INDEX request_ids_by_record;
      DROP INDEX request_ids_by_create;
      DROP INDEX batches_by_complete;
      DROP INDEX job_history_by_execution;
      CREATE INDEX job_history_by_execution ON job_history (execution_id, revision);
      DROP INDEX jobs_by_batch_create;
      CREATE INDEX jobs_by_batch_create ON jobs (batch_id, create_time, id);
    `);
    raw.pragma('user_version = 4');
    raw.close();

    storage = temp.open();
    expect(history.map((event) => event.executionId)).toEqual([execution.id, execution.id]);
    expect((await storage.jobStore.getJobHistory(NODE, { executionId: execution.id, pageSize: 10 })).items).toEqual(history);
    expect((await storage.jobStore.listJobs(NODE, { batchId: batch.id, pageSize: 10 })).items.map((listed) => listed.id).sort()).toEqual([...jobIds].sort());
    storage.close();

    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(requesterMigrations.length);
      const indexSql = (name: string) => (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) as { sql: string }).sql;
      expect(indexSql('job_history_by_execution')).toMatch(/WHERE execution_id <> ''$/);
      expect(indexSql('jobs_by_batch_create')).toMatch(/WHERE batch_id <> ''$/);
      expect(indexSql('batches_by_complete')).toMatch(/WHERE complete_time IS NOT NULL$/);
      expect(indexSql('request_ids_by_record')).toMatch(/ON request_ids \(record_id\)$/);
      expect(indexSql('request_ids_by_create')).toMatch(/ON request_ids \(create_time\)$/);
      // The partial indexes hold exactly the rows they are for.
      expect(db.prepare("SELECT count(*) FROM job_history INDEXED BY job_history_by_execution WHERE execution_id <> ''").pluck().get()).toBe(2);
      expect(db.prepare("SELECT count(*) FROM jobs INDEXED BY jobs_by_batch_create WHERE batch_id <> ''").pluck().get()).toBe(2);
    } finally {
      db.close();
    }
    expect(checkNodeDatabase('requester', file)).toEqual([]);
  });
});
