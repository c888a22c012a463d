import { failedPrecondition } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import { appendJobEventInTx } from './job-events.js';
import type { JobState } from './job-model.js';
import type { NodeDatabase } from './node-database.js';

type Row = Record<string, unknown>;

/** Everything a requester database holds about one job, as its rows are. */
interface JobRows {
  job: Row & { id: string; state: JobState; batch_id: string; revision: number; create_revision: number; claim_lease_id: number | null };
  spec: Row | undefined;
  labels: Row[];
  executions: (Row & { revision: number })[];
  history: (Row & { revision: number })[];
  requestIds: Row[];
  batch: Row | undefined;
}

export interface MoveEnds {
  sourceNodeId: string;
  source: NodeDatabase;
  targetNodeId: string;
  target: NodeDatabase;
  /** Where a claimed job's lease is noted against the target, so that the lease's end finds it there. */
  coordination: CoordinationDatabase;
}

/**
 * Moves one job, with its spec, labels, executions, history and request ids, from one
 * requester database to another, in two commits: the copy on the target, then the job's removal
 * from the source. Each is idempotent, so a move cut short at any instant and done again ends
 * with the job exactly once, on the target:
 * - a job whose copy already committed (an `in` row from this source) is not copied again;
 * - a job already gone from the source is left alone.
 * Both commits happen before this returns, with nothing else in this process running in between,
 * so that no write can change the source's job after its copy was taken.
 * Returns whether the job was moved now (false: it had ended or was already gone).
 */
export function moveJob(ends: MoveEnds, jobId: string, now: number): boolean {
  const rows = ends.source.read(() => readJobRows(ends.source, jobId));
  if (rows === undefined || isEnded(rows.job.state)) return false;
  const copied = ends.target.read(
    () => ends.target.statement(`SELECT 1 FROM job_moves WHERE job_id = ? AND direction = 'in' AND node_id = ?`).get(jobId, ends.sourceNodeId) !== undefined,
  );
  if (!copied) {
    if (rows.job.claim_lease_id !== null) noteLeaseClaim(ends.coordination, rows.job.claim_lease_id, ends.targetNodeId);
    ends.target.writeNow(() => copyJobInTx(ends.target, rows, ends.sourceNodeId, now));
  }
  ends.source.writeNow(() => removeMovedJobInTx(ends.source, rows, ends.targetNodeId, now));
  return true;
}

function isEnded(state: JobState): boolean {
  return state === 'COMPLETED' || state === 'FAILED' || state === 'CANCELLED';
}

function readJobRows(db: NodeDatabase, jobId: string): JobRows | undefined {
  const job = db.statement('SELECT * FROM jobs WHERE id = ?').get(jobId) as JobRows['job'] | undefined;
  if (job === undefined) return undefined;
  return {
    job,
    spec: db.statement('SELECT * FROM job_specs WHERE job_id = ?').get(jobId) as Row | undefined,
    labels: db.statement('SELECT * FROM job_labels WHERE job_id = ?').all(jobId) as Row[],
    executions: db.statement('SELECT * FROM executions WHERE job_id = ? ORDER BY create_time, id').all(jobId) as JobRows['executions'],
    history: db.statement('SELECT * FROM job_history WHERE job_id = ? ORDER BY revision').all(jobId) as JobRows['history'],
    requestIds: db.statement(`SELECT * FROM request_ids WHERE record_id = ? AND kind IN ('job', 'job-existing')`).all(jobId) as Row[],
    batch: job.batch_id === '' ? undefined : (db.statement('SELECT * FROM batches WHERE id = ?').get(job.batch_id) as Row | undefined),
  };
}

/**
 * Revisions are per database, so the copied history is appended under new ones, and every
 * revision that named a history row (the job's, its creation's, its executions') is renamed
 * to match; the copy's consistency check then holds as the source's did.
 */
function copyJobInTx(target: NodeDatabase, rows: JobRows, sourceNodeId: string, now: number): void {
  const { job } = rows;
  if (target.statement('SELECT 1 FROM jobs WHERE id = ?').get(job.id) !== undefined) {
    throw failedPrecondition(`job ${job.id} cannot move: the target already holds a different job with that id`);
  }
  if (rows.batch !== undefined) {
    insertRow(target, 'batches', { ...rows.batch, complete_revision: null, complete_time: null }, 'OR IGNORE');
    // A batch completed here earlier has a live job again, so it is open again.
    target.statement('UPDATE batches SET complete_revision = NULL, complete_time = NULL WHERE id = ?').run(job.batch_id);
  }
  const renamed = new Map<number, number>();
  for (const { revision, ...event } of rows.history) {
    renamed.set(revision, Number(insertRow(target, 'job_history', event).lastInsertRowid));
  }
  const movedIn = appendJobEventInTx(target, {
    jobId: job.id,
    executionId: '',
    type: 'JOB_MOVED_IN',
    previousState: job.state,
    newState: job.state,
    message: `moved here from node ${sourceNodeId} by a drain`,
    time: now,
    batchId: job.batch_id,
  });
  insertConflictChecked(target, job, { ...job, revision: movedIn, create_revision: renamed.get(job.create_revision) ?? movedIn });
  if (rows.spec !== undefined) insertRow(target, 'job_specs', rows.spec);
  for (const label of rows.labels) insertRow(target, 'job_labels', label);
  for (const execution of rows.executions) insertRow(target, 'executions', { ...execution, revision: renamed.get(execution.revision) ?? movedIn });
  for (const requestId of rows.requestIds) insertRow(target, 'request_ids', requestId, 'OR IGNORE');
  target
    .statement(`INSERT OR REPLACE INTO job_moves (job_id, direction, node_id, batch_id, revision, time) VALUES (?, 'in', ?, ?, ?, ?)`)
    .run(job.id, sourceNodeId, job.batch_id, movedIn, now);
}

/** The job's row, or a precise refusal when its name or dedupe key is taken on the target. */
function insertConflictChecked(target: NodeDatabase, job: JobRows['job'], row: Row): void {
  try {
    insertRow(target, 'jobs', row);
  } catch (error) {
    const message = (error as Error).message;
    if (message.includes('UNIQUE constraint failed: jobs.namespace, jobs.name')) {
      throw failedPrecondition(`job ${job.id} cannot move: its name ${String(job.name)} is taken in namespace ${String(job.namespace)} on the target`);
    }
    if (message.includes('UNIQUE constraint failed: jobs.namespace, jobs.dedupe_key')) {
      throw failedPrecondition(`job ${job.id} cannot move: a live job on the target has its dedupe key ${String(job.dedupe_key)}`);
    }
    throw error;
  }
}

function removeMovedJobInTx(source: NodeDatabase, rows: JobRows, targetNodeId: string, now: number): void {
  const { job } = rows;
  const current = source.statement('SELECT revision FROM jobs WHERE id = ?').get(job.id) as { revision: number } | undefined;
  if (current === undefined) return;
  if (current.revision !== job.revision) {
    // Unreachable while the copy and this commit run back to back; kept so that a change
    // slipping in between could never be lost silently.
    throw failedPrecondition(`job ${job.id} changed while it was moving; run the drain again to move it as it is now`);
  }
  const revision = appendJobEventInTx(source, {
    jobId: job.id,
    executionId: '',
    type: 'JOB_MOVED_OUT',
    previousState: job.state,
    newState: '',
    message: `moved to node ${targetNodeId} by a drain`,
    time: now,
    batchId: job.batch_id,
  });
  // Specs, labels and executions go with the job through ON DELETE CASCADE.
  source.statement('DELETE FROM jobs WHERE id = ?').run(job.id);
  source.statement(`DELETE FROM request_ids WHERE record_id = ? AND kind IN ('job', 'job-existing')`).run(job.id);
  source
    .statement(`INSERT OR REPLACE INTO job_moves (job_id, direction, node_id, batch_id, revision, time) VALUES (?, 'out', ?, ?, ?, ?)`)
    .run(job.id, targetNodeId, job.batch_id, revision, now);
}

function noteLeaseClaim(coordination: CoordinationDatabase, leaseId: number, nodeId: string): void {
  coordination.write(() => coordination.statement('INSERT OR IGNORE INTO lease_claims (lease_id, node_id) VALUES (?, ?)').run(leaseId, nodeId));
}

/**
 * Inserts a row read from the same schema; column names come from that row, never from a
 * caller, so they are safe to put in the statement.
 */
function insertRow(db: NodeDatabase, table: string, row: Row, conflict: '' | 'OR IGNORE' = '') {
  const columns = Object.keys(row);
  const sql = `INSERT ${conflict} INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((column) => `@${column}`).join(', ')})`;
  return db.statement(sql).run(row);
}
