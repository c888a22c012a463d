import { notFound } from '@jobkeep/errors';
import type { Execution, ExecutionCounters, ExecutionEvent } from './execution-model.js';
import {
  EXECUTION_COLUMNS,
  EXECUTION_EVENT_COLUMNS,
  EXECUTION_FROM,
  executionEventFromRow,
  executionFromRow,
  type ExecutionEventRow,
  type ExecutionRow,
} from './execution-rows.js';
import { EXECUTION_STATES, type ExecutionState } from './job-model.js';
import { pageOf } from './job-reads.js';
import type { Page } from './job-store.js';
import type { NodeDatabase } from './node-database.js';
import { decodePageToken, queryFingerprint } from './page-token.js';

/** Reads of the compute database; each runs inside the caller's read or write transaction. */

export function selectExecution(db: NodeDatabase, executionId: string): Execution | undefined {
  const row = db.statement(`SELECT ${EXECUTION_COLUMNS} FROM ${EXECUTION_FROM} WHERE e.id = ?`).get(executionId) as
    | ExecutionRow
    | undefined;
  return row === undefined ? undefined : executionFromRow(row);
}

export function selectExecutionById(db: NodeDatabase, executionId: string): Execution {
  const execution = selectExecution(db, executionId);
  if (execution === undefined) throw notFound(`execution ${executionId} not found`);
  return execution;
}

/** Where a history page starts, worked out from the query before any file is touched. */
export interface ExecutionHistorySelection {
  executionId: string;
  /** The first revision not yet returned: after the page token's, and at least from_revision. */
  from: number;
  pageSize: number;
  fingerprint: string;
}

export function checkHistoryPage(
  executionId: string,
  fromRevision: number,
  pageSize: number,
  pageToken: string | undefined,
): ExecutionHistorySelection {
  const fingerprint = queryFingerprint(['execution-history', executionId, fromRevision]);
  const cursor = decodePageToken(pageToken, fingerprint);
  return { executionId, from: Math.max(fromRevision, cursor === undefined ? 0 : cursor.after[0] + 1), pageSize, fingerprint };
}

export function selectExecutionHistory(db: NodeDatabase, selection: ExecutionHistorySelection): Page<ExecutionEvent> {
  const byExecution = selection.executionId !== '';
  const rows = db
    .statement(
      `SELECT ${EXECUTION_EVENT_COLUMNS} FROM execution_history
       WHERE revision >= ? ${byExecution ? 'AND execution_id = ?' : ''} ORDER BY revision LIMIT ?`,
    )
    .all(selection.from, ...(byExecution ? [selection.executionId] : []), selection.pageSize + 1) as ExecutionEventRow[];
  return pageOf(rows, selection.pageSize, executionEventFromRow, (row) => ({ after: [row.revision, ''] }), selection.fingerprint);
}

/**
 * The database's current revision: the last one ever handed out, which sqlite_sequence keeps
 * even after retention has removed the history rows that carried it.
 */
export function selectCurrentRevision(db: NodeDatabase): number {
  const row = db
    .statement(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'execution_history'), 0),
                  coalesce((SELECT max(revision) FROM execution_history), 0)) AS revision`,
    )
    .get() as { revision: number };
  return row.revision;
}

/** The counters the triggers keep, with every state present; no execution row is read. */
export function selectExecutionCounters(db: NodeDatabase): ExecutionCounters {
  const counts = Object.fromEntries(EXECUTION_STATES.map((state) => [state, 0])) as Record<ExecutionState, number>;
  const rows = db.statement('SELECT state, count FROM execution_state_counts').all() as {
    state: ExecutionState;
    count: number;
  }[];
  for (const row of rows) counts[row.state] = row.count;
  return { counts, revision: selectCurrentRevision(db) };
}
