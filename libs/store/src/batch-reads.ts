import { notFound } from '@jobkeep/errors';
import type { Batch, FailedJob, JobState } from './job-model.js';
import type { Page } from './job-store.js';
import { pageOf } from './job-reads.js';
import type { NodeDatabase } from './node-database.js';
import { decodePageToken, queryFingerprint } from './page-token.js';

interface BatchRow {
  id: string;
  namespace: string;
  labels: string;
  create_time: number;
  complete_revision: number | null;
  complete_time: number | null;
}

const BATCH_COLUMNS = 'id, namespace, labels, create_time, complete_revision, complete_time';

function batchFromRow(db: NodeDatabase, row: BatchRow): Batch {
  const rows = db
    .statement('SELECT state, count FROM batch_state_counts WHERE batch_id = ? AND count > 0 ORDER BY state')
    .all(row.id) as { state: JobState; count: number }[];
  return {
    id: row.id,
    namespace: row.namespace,
    labels: JSON.parse(row.labels) as Record<string, string>,
    counts: Object.fromEntries(rows.map((count) => [count.state, count.count])),
    total: rows.reduce((sum, count) => sum + count.count, 0),
    completed: row.complete_revision !== null,
    completeRevision: row.complete_revision ?? 0,
    createTime: row.create_time,
    completeTime: row.complete_time ?? 0,
  };
}

export function selectBatchInTx(db: NodeDatabase, batchId: string): Batch {
  const row = db.statement(`SELECT ${BATCH_COLUMNS} FROM batches WHERE id = ?`).get(batchId) as BatchRow | undefined;
  if (row === undefined) throw notFound(`batch ${batchId} not found`);
  return batchFromRow(db, row);
}

/** Oldest first, by (create_time, id), from an index for each filter. */
export function selectBatchesInTx(db: NodeDatabase, namespace: string, pageSize: number, pageToken: string | undefined): Page<Batch> {
  const fingerprint = queryFingerprint(['batches', namespace]);
  const cursor = decodePageToken(pageToken, fingerprint);
  const after = [cursor?.after[0] ?? -1, cursor?.after[1] ?? ''];
  const rows = (
    namespace === ''
      ? db.statement(BATCH_PAGE_SQL.all).all(...after, pageSize + 1)
      : db.statement(BATCH_PAGE_SQL.namespace).all(namespace, ...after, pageSize + 1)
  ) as BatchRow[];
  return pageOf(rows, pageSize, (row) => batchFromRow(db, row), (row) => ({ after: [row.create_time, row.id] }), fingerprint);
}

interface FailedJobRow {
  id: string;
  name: string | null;
  queue: string;
  state_message: string;
  retry_count: number;
  modify_time: number;
  create_revision: number;
}

/** A page of a batch's FAILED jobs, oldest first, from `jobs_by_batch_state`. */
export const FAILED_JOBS_SQL = `SELECT id, name, queue, state_message, retry_count, modify_time, create_revision FROM jobs
  WHERE batch_id = ? AND batch_id <> '' AND state = 'FAILED' AND create_revision > ? ORDER BY create_revision LIMIT ?`;

/** Batches oldest first, all of them or one namespace's. */
export const BATCH_PAGE_SQL = {
  all: `SELECT ${BATCH_COLUMNS} FROM batches WHERE (create_time, id) > (?, ?) ORDER BY create_time, id LIMIT ?`,
  namespace: `SELECT ${BATCH_COLUMNS} FROM batches WHERE namespace = ? AND (create_time, id) > (?, ?) ORDER BY create_time, id LIMIT ?`,
};

/** One page of the batch's FAILED jobs. */
export function selectFailedJobsInTx(db: NodeDatabase, batchId: string, pageSize: number, pageToken: string | undefined): Page<FailedJob> {
  const fingerprint = queryFingerprint(['batch-report', batchId]);
  const cursor = decodePageToken(pageToken, fingerprint);
  const rows = db.statement(FAILED_JOBS_SQL).all(batchId, cursor?.after[0] ?? 0, pageSize + 1) as FailedJobRow[];
  return pageOf(
    rows,
    pageSize,
    (row) => ({
      jobId: row.id,
      name: row.name ?? '',
      queue: row.queue,
      stateMessage: row.state_message,
      retryCount: row.retry_count,
      failTime: row.modify_time,
    }),
    (row) => ({ after: [row.create_revision, row.id] }),
    fingerprint,
  );
}
