import { newRecordId } from './identifiers.js';
import { insertNewJobsInTx } from './job-inserts.js';
import type { NewJob } from './job-validation.js';
import { insertJobInTx } from './job-writes.js';
import type { OnDuplicate } from './job-store.js';
import type { NodeDatabase } from './node-database.js';

/**
 * Inserts a CreateBatch's jobs, already checked and admitted to their batch, in input order;
 * returns their ids in that order (for a duplicate returned as existing, the existing job's).
 *
 * Most jobs of a batch are plain: no id, name, dedupe key or request id of their own. Nothing in
 * the database or in the batch can conflict with them, so they need none of a CreateJob's
 * lookups, and runs of them are written several to a statement. A job with any of those goes alone
 * through CreateJob's path, after the run before it, so revisions follow the input order.
 */
export function insertBatchJobsInTx(db: NodeDatabase, jobs: readonly NewJob[], onDuplicate: OnDuplicate, now: number): string[] {
  const ids: string[] = [];
  let run: NewJob[] = [];
  const insertRun = () => {
    ids.push(...insertPlainJobsInTx(db, run, now));
    run = [];
  };
  for (const job of jobs) {
    if (job.id === undefined && job.name === '' && job.dedupeKey === '' && job.requestId === '') {
      run.push(job);
    } else {
      insertRun();
      ids.push(insertJobInTx(db, job, onDuplicate, now, true).id);
    }
  }
  insertRun();
  return ids;
}

/** Plain jobs, which nothing can conflict with, under new ids. */
function insertPlainJobsInTx(db: NodeDatabase, jobs: readonly NewJob[], now: number): string[] {
  if (jobs.length === 0) return [];
  db.admitNewRecords();
  const ids = jobs.map(() => newRecordId('j'));
  insertNewJobsInTx(db, jobs.map((job, i) => ({ id: ids[i]!, job })), now);
  return ids;
}
