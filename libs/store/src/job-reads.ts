import { invalidArgument, notFound } from '@jobkeep/errors';
import type { Job, JobEvent, JobExecution } from './job-model.js';
import {
  EXECUTION_COLUMNS,
  JOB_COLUMNS,
  JOB_EVENT_COLUMNS,
  JOB_FROM,
  executionFromRow,
  jobEventFromRow,
  jobFromRow,
  type ExecutionRow,
  type JobEventRow,
  type JobRow,
} from './job-rows.js';
import type { NodeDatabase } from './node-database.js';
import { decodePageToken, encodePageToken, queryFingerprint, type Cursor } from './page-token.js';
import type { Page } from './job-store.js';

/** Reads of the requester database; each runs inside the caller's read or write transaction. */

export function selectJob(db: NodeDatabase, jobId: string): Job | undefined {
  const row = db.statement(`SELECT ${JOB_COLUMNS} FROM ${JOB_FROM} WHERE j.id = ?`).get(jobId) as JobRow | undefined;
  return row === undefined ? undefined : jobFromRow(row);
}

export function selectJobById(db: NodeDatabase, jobId: string): Job {
  const job = selectJob(db, jobId);
  if (job === undefined) throw jobNotFound(db, jobId);
  return job;
}

/** NOT_FOUND for a job, saying where it went when a drain moved it away. */
export function jobNotFound(db: NodeDatabase, jobId: string) {
  const movedTo = jobMovedTo(db, jobId);
  return notFound(movedTo === undefined ? `job ${jobId} not found` : `job ${jobId} not found: a drain moved it to node ${movedTo}`);
}

/** The node a drain moved the job to, if it did. */
export function jobMovedTo(db: NodeDatabase, jobId: string): string | undefined {
  const moved = db.statement(`SELECT node_id FROM job_moves WHERE job_id = ? AND direction = 'out' AND done = 1`).get(jobId) as { node_id: string } | undefined;
  return moved?.node_id;
}

export function selectJobByName(db: NodeDatabase, namespace: string, name: string): Job {
  const row = db.statement(`SELECT ${JOB_COLUMNS} FROM ${JOB_FROM} WHERE j.namespace = ? AND j.name = ?`).get(
    namespace,
    name,
  ) as JobRow | undefined;
  if (row === undefined) throw notFound(`no job named ${name} in namespace ${namespace}`);
  return jobFromRow(row);
}

/**
 * The one job whose id starts with `prefix`. Identifiers hold no GLOB metacharacters (they are
 * validated), so GLOB here is a plain prefix match that SQLite serves from the primary key.
 */
export function selectJobByPrefix(db: NodeDatabase, prefix: string): Job {
  const rows = db.statement(`SELECT ${JOB_COLUMNS} FROM ${JOB_FROM} WHERE j.id GLOB ? || '*' ORDER BY j.id LIMIT 3`).all(
    prefix,
  ) as JobRow[];
  if (rows.length === 0) throw notFound(`no job id starts with ${prefix}`);
  if (rows.length > 1) {
    const examples = rows.slice(0, 2).map((row) => row.id).join(', ');
    throw invalidArgument(`job id prefix ${prefix} is ambiguous: it matches ${examples}${rows.length > 2 ? ' and more' : ''}; give more characters`);
  }
  return jobFromRow(rows[0]!);
}

/** A page of rows fetched with LIMIT pageSize + 1, so that the extra row says whether more follow. */
export function pageOf<R, T>(
  rows: R[],
  pageSize: number,
  toItem: (row: R) => T,
  cursorOf: (row: R) => Cursor,
  fingerprint: string,
): Page<T> {
  const more = rows.length > pageSize;
  const pageRows = more ? rows.slice(0, pageSize) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(toItem),
    nextPageToken: more && last !== undefined ? encodePageToken(cursorOf(last), fingerprint) : '',
  };
}

export interface HistoryQuery {
  jobId: string;
  executionId: string;
  fromRevision: number;
  pageSize: number;
  pageToken: string | undefined;
}

export function selectJobHistory(db: NodeDatabase, query: HistoryQuery): Page<JobEvent> {
  const fingerprint = queryFingerprint(['history', query.jobId, query.executionId, query.fromRevision]);
  const cursor = decodePageToken(query.pageToken, fingerprint);
  // The first revision not yet returned: after the cursor, and at least from_revision.
  const from = Math.max(query.fromRevision, cursor === undefined ? 0 : cursor.after[0] + 1);
  const conditions = ['revision >= ?'];
  const params: (string | number)[] = [from];
  if (query.jobId !== '') {
    conditions.push('job_id = ?');
    params.push(query.jobId);
  }
  if (query.executionId !== '') {
    // The second term lets SQLite use the partial index job_history_by_execution.
    conditions.push("execution_id = ? AND execution_id <> ''");
    params.push(query.executionId);
  }
  const rows = db
    .statement(`SELECT ${JOB_EVENT_COLUMNS} FROM job_history WHERE ${conditions.join(' AND ')} ORDER BY revision LIMIT ?`)
    .all(...params, query.pageSize + 1) as JobEventRow[];
  return pageOf(rows, query.pageSize, jobEventFromRow, (row) => ({ after: [row.revision, ''] }), fingerprint);
}

export function selectExecutions(
  db: NodeDatabase,
  jobId: string,
  pageSize: number,
  pageToken: string | undefined,
): Page<JobExecution> {
  const fingerprint = queryFingerprint(['executions', jobId]);
  const cursor = decodePageToken(pageToken, fingerprint);
  const rows = db
    .statement(
      `SELECT ${EXECUTION_COLUMNS} FROM executions WHERE job_id = ? AND (create_time, id) > (?, ?)
       ORDER BY create_time, id LIMIT ?`,
    )
    .all(jobId, cursor?.after[0] ?? -1, cursor?.after[1] ?? '', pageSize + 1) as ExecutionRow[];
  return pageOf(rows, pageSize, executionFromRow, (row) => ({ after: [row.create_time, row.id] }), fingerprint);
}
