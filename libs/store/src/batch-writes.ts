import { alreadyExists, failedPrecondition } from '@jobkeep/errors';
import { newRecordId } from './identifiers.js';
import { appendJobEventInTx } from './job-events.js';
import type { NodeDatabase } from './node-database.js';
import { LIVE_JOB_STATES_SQL } from './job-model.js';

/** A batch as CreateBatch will insert it, checked. */
export interface NewBatch {
  id: string | undefined;
  namespace: string;
  labels: Record<string, string>;
}

export function insertBatchInTx(db: NodeDatabase, batch: NewBatch, now: number): string {
  db.admitNewRecords();
  const id = batch.id ?? newRecordId('b');
  if (db.statement('SELECT 1 FROM batches WHERE id = ?').get(id) !== undefined) throw alreadyExists(`batch ${id} already exists`);
  db.statement('INSERT INTO batches (id, namespace, labels, create_time) VALUES (?, ?, ?, ?)').run(
    id,
    batch.namespace,
    JSON.stringify(batch.labels),
    now,
  );
  return id;
}

/**
 * Makes sure a job may join `batchId`: a batch named for the first time by a job is created
 * with it (in the job's namespace), and a completed batch takes no more jobs, since its
 * BATCH_COMPLETED event has already been told.
 */
export function admitToBatchInTx(db: NodeDatabase, batchId: string, namespace: string, now: number): void {
  const batch = db.statement('SELECT complete_revision FROM batches WHERE id = ?').get(batchId) as
    | { complete_revision: number | null }
    | undefined;
  if (batch === undefined) {
    insertBatchInTx(db, { id: batchId, namespace, labels: {} }, now);
  } else if (batch.complete_revision !== null) {
    throw failedPrecondition(`batch ${batchId} completed at revision ${batch.complete_revision}; it takes no more jobs`);
  }
}

/**
 * Writes the batch's one BATCH_COMPLETED event if `jobId`'s change left it with no live job.
 * Transactions on a database run one at a time, and the event is written only while the batch
 * has no complete_revision, so that concurrent final transitions complete it exactly once.
 */
export function completeBatchIfDoneInTx(db: NodeDatabase, batchId: string, jobId: string, now: number): void {
  const batch = db.statement('SELECT complete_revision FROM batches WHERE id = ?').get(batchId) as
    | { complete_revision: number | null }
    | undefined;
  if (batch === undefined || batch.complete_revision !== null) return;
  const live = db
    .statement(`SELECT 1 FROM batch_state_counts WHERE batch_id = ? AND state IN ${LIVE_JOB_STATES_SQL} AND count > 0 LIMIT 1`)
    .get(batchId);
  if (live !== undefined) return;
  const counts = db
    .statement('SELECT state, count FROM batch_state_counts WHERE batch_id = ? AND count > 0 ORDER BY state')
    .all(batchId) as { state: string; count: number }[];
  const summary = counts.length === 0 ? 'no job of its own' : counts.map((row) => `${row.count} ${row.state}`).join(', ');
  const revision = appendJobEventInTx(db, {
    jobId,
    executionId: '',
    type: 'BATCH_COMPLETED',
    previousState: '',
    newState: '',
    message: `batch ${batchId} completed: ${summary}`,
    time: now,
    batchId,
  });
  db.statement('UPDATE batches SET complete_revision = ?, complete_time = ? WHERE id = ?').run(revision, now, batchId);
}
