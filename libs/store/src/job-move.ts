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

export interface MovedJobs {
  /** Jobs now on the target and gone from the source. */
  moved: number;
  /** Jobs that had ended or were gone by the time the drain reached them. */
  skipped: number;
  /** Why a job could not move (its name taken on the target, say); it stays where it was. */
  refusal?: unknown;
}

/**
 * Moves jobs, with their specs, labels, executions, history and request ids, from one requester
 * database to another, in three commits for the whole group (job_moves rows track each job):
 * 1. on the source, each job that has not ended is frozen (no change to it is taken);
 * 2. on the target, each frozen job is copied, unless an earlier run's copy already committed;
 * 3. on the source, the copied jobs are removed, and any that could not be copied unfrozen.
 * Each step is idempotent and a frozen job cannot change, so a drain cut short at any instant and
 * run again ends with each job exactly once, on the target, as it last was.
 */
export function moveJobs(ends: MoveEnds, jobIds: readonly string[], now: number): MovedJobs {
  const { source, target } = ends;
  const frozen = source.writeNow(() => jobIds.flatMap((jobId) => freezeJobInTx(ends, jobId, now) ?? []));
  let copied: JobRows[];
  let refusal: unknown;
  try {
    for (const rows of frozen) {
      if (rows.job.claim_lease_id !== null) noteLeaseClaim(ends.coordination, rows.job.claim_lease_id, ends.targetNodeId);
    }
    copied = target.writeNow(() =>
      frozen.filter((rows) => {
        // After a refusal, only copies that already committed go on to their removal.
        if (refusal !== undefined) return isCopiedInTx(target, rows.job.id, ends.sourceNodeId);
        try {
          // Its own savepoint: a job that cannot move leaves the others' copies whole.
          target.db.transaction(() => copyJobInTx(target, rows, ends.sourceNodeId, now))();
          return true;
        } catch (error) {
          refusal = error;
          return false;
        }
      }),
    );
  } catch (error) {
    // Nothing of this group reached the target in this run: unfreeze what has no copy there.
    unfreezeUncopied(ends, frozen.map((rows) => rows.job.id));
    throw error;
  }
  source.writeNow(() => {
    for (const rows of copied) removeMovedJobInTx(source, rows, ends.targetNodeId, now);
    for (const rows of frozen.filter((rows) => !copied.includes(rows))) unfreezeInTx(source, rows.job.id);
  });
  return { moved: copied.length, skipped: jobIds.length - frozen.length, refusal };
}

/**
 * Finishes the moves a drain left half-done (its process killed between two commits, or a
 * commit that failed): each job still frozen on `source` is removed if its copy committed on the
 * node it was going to, and unfrozen otherwise. Run by every drain before it moves anything, so
 * that running the drain again always frees what an interrupted one froze.
 */
export function finishHalfDoneMoves(source: NodeDatabase, sourceNodeId: string, nodeDatabase: (nodeId: string) => NodeDatabase | undefined, now: number): number {
  const frozen = source.read(
    () => source.statement(`SELECT job_id, node_id FROM job_moves WHERE direction = 'out' AND done = 0`).all() as { job_id: string; node_id: string }[],
  );
  for (const { job_id: jobId, node_id: nodeId } of frozen) {
    const target = nodeDatabase(nodeId);
    const copied = target !== undefined && target.read(() => isCopiedInTx(target, jobId, sourceNodeId));
    source.writeNow(() => {
      const rows = readJobRows(source, jobId);
      if (copied && rows !== undefined) removeMovedJobInTx(source, rows, nodeId, now);
      else unfreezeInTx(source, jobId);
    });
  }
  return frozen.length;
}

function isCopiedInTx(target: NodeDatabase, jobId: string, sourceNodeId: string): boolean {
  return target.statement(`SELECT 1 FROM job_moves WHERE job_id = ? AND direction = 'in' AND node_id = ?`).get(jobId, sourceNodeId) !== undefined;
}

function unfreezeInTx(source: NodeDatabase, jobId: string): void {
  source.statement(`DELETE FROM job_moves WHERE job_id = ? AND direction = 'out' AND done = 0`).run(jobId);
}

/** After a failed copy commit: jobs whose copy did not commit (in any run) are free again. */
function unfreezeUncopied(ends: MoveEnds, jobIds: readonly string[]): void {
  try {
    const uncopied = ends.target.read(() => jobIds.filter((jobId) => !isCopiedInTx(ends.target, jobId, ends.sourceNodeId)));
    ends.source.writeNow(() => uncopied.forEach((jobId) => unfreezeInTx(ends.source, jobId)));
  } catch {
    // The target cannot even be read: the jobs stay frozen, which is safe, until the drain runs again.
  }
}

/**
 * Freezes one job for the move and reads it whole; undefined when it has ended or is gone. A
 * job an earlier run froze for another target is refused: its copy may be there already.
 */
function freezeJobInTx(ends: MoveEnds, jobId: string, now: number): JobRows | undefined {
  const { source } = ends;
  const rows = readJobRows(source, jobId);
  if (rows === undefined || isEnded(rows.job.state)) return undefined;
  const earlier = source.statement(`SELECT node_id, done FROM job_moves WHERE job_id = ? AND direction = 'out'`).get(jobId) as
    | { node_id: string; done: number }
    | undefined;
  if (earlier?.done === 0 && earlier.node_id !== ends.targetNodeId) {
    throw failedPrecondition(`job ${jobId} is half-way to node ${earlier.node_id}: finish that drain (run it again) before draining to another node`);
  }
  source
    .statement(`INSERT OR REPLACE INTO job_moves (job_id, direction, node_id, batch_id, done, time) VALUES (?, 'out', ?, ?, 0, ?)`)
    .run(jobId, ends.targetNodeId, rows.job.batch_id, now);
  return rows;
}

function isEnded(state: JobState): boolean {
  return state === 'COMPLETED' || state === 'FAILED' || state === 'CANCELLED';
}

function readJobRows(db: NodeDatabase, jobId: string): JobRows | undefined {
  const job = db.statement('SELECT * FROM jobs WHERE id = ?').get(jobId) as JobRows['job'] | undefined;
  if (job === undefined) return undefined;
  const executions = db.statement('SELECT * FROM executions WHERE job_id = ? ORDER BY create_time, id').all(jobId) as JobRows['executions'];
  const requestIdsOf = (recordId: unknown, kinds: string) =>
    db.statement(`SELECT * FROM request_ids WHERE record_id = ? AND kind IN (${kinds})`).all(recordId) as Row[];
  return {
    job,
    spec: db.statement('SELECT * FROM job_specs WHERE job_id = ?').get(jobId) as Row | undefined,
    labels: db.statement('SELECT * FROM job_labels WHERE job_id = ?').all(jobId) as Row[],
    executions,
    history: db.statement('SELECT * FROM job_history WHERE job_id = ? ORDER BY revision').all(jobId) as JobRows['history'],
    // The creates of its executions too: retried on the target, they find the execution they made.
    requestIds: [...requestIdsOf(jobId, `'job', 'job-existing'`), ...executions.flatMap((execution) => requestIdsOf(execution.id, `'execution'`))],
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
  if (isCopiedInTx(target, job.id, sourceNodeId)) return; // an earlier run's copy committed, and the source's job is frozen since
  target.admitNewRecords();
  if (target.statement('SELECT 1 FROM jobs WHERE id = ?').get(job.id) !== undefined) {
    throw failedPrecondition(`job ${job.id} cannot move: the target already holds a different job with that id`);
  }
  if (rows.batch !== undefined) copyBatchInTx(target, job.id, rows.batch);
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
  // Whatever this database knew of the job before (it moved out of here once) is history now.
  target.statement(`DELETE FROM job_moves WHERE job_id = ? AND direction = 'out'`).run(job.id);
  target
    .statement(`INSERT OR REPLACE INTO job_moves (job_id, direction, node_id, batch_id, done, time) VALUES (?, 'in', ?, ?, 1, ?)`)
    .run(job.id, sourceNodeId, job.batch_id, now);
}

/**
 * The job's batch on the target: made there (open) if missing, reopened if this batch completed
 * there already (an earlier part of it moved and ended). A different batch that happens to have
 * the same id refuses the move, rather than merging two batches.
 */
function copyBatchInTx(target: NodeDatabase, jobId: string, batch: Row): void {
  const existing = target.statement('SELECT namespace, labels, create_time FROM batches WHERE id = ?').get(batch.id) as Row | undefined;
  if (existing === undefined) {
    insertRow(target, 'batches', { ...batch, complete_revision: null, complete_time: null });
    return;
  }
  if (existing.namespace !== batch.namespace || existing.labels !== batch.labels || existing.create_time !== batch.create_time) {
    throw failedPrecondition(`job ${jobId} cannot move: the target holds a different batch with its batch id ${String(batch.id)}`);
  }
  target.statement('UPDATE batches SET complete_revision = NULL, complete_time = NULL WHERE id = ?').run(batch.id);
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
  // Unfrozen first, or the triggers would refuse the delete. Its `in` row, from when it moved
  // here, goes: were it to come back and be frozen again, that row would pass for a fresh copy.
  source.statement(`UPDATE job_moves SET done = 1, time = ? WHERE job_id = ? AND direction = 'out'`).run(now, job.id);
  source.statement(`DELETE FROM job_moves WHERE job_id = ? AND direction = 'in'`).run(job.id);
  appendJobEventInTx(source, {
    jobId: job.id,
    executionId: '',
    type: 'JOB_MOVED_OUT',
    previousState: job.state,
    newState: '',
    message: `moved to node ${targetNodeId} by a drain`,
    time: now,
    batchId: job.batch_id,
  });
  // Specs, labels and executions go with the job through ON DELETE CASCADE. Its request ids
  // stay, so that a create retried here learns where the job went.
  source.statement('DELETE FROM jobs WHERE id = ?').run(job.id);
}

function noteLeaseClaim(coordination: CoordinationDatabase, leaseId: number, nodeId: string): void {
  // Decided, not awaited: the copy's commit on the target commits coordination.db first (beforeCommit).
  coordination.decide(() => coordination.statement('INSERT OR IGNORE INTO lease_claims (lease_id, node_id) VALUES (?, ?)').run(leaseId, nodeId));
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
