import type { NodeDatabaseKind } from './database-locations.js';
import { updateExecutionStateInTx } from './execution-writes.js';
import { compactHistoryInTx } from './history-compaction.js';
import { HISTORY_TABLES } from './history-reads.js';
import { updateJobStateInTx } from './job-writes.js';
import type { NodeDatabase } from './node-database.js';
import type { RetentionPolicy, RetentionRule } from './retention-policy.js';

/** What one pass of retention did to one database. */
export interface RetentionReport {
  kind: NodeDatabaseKind;
  nodeId: string;
  /** Records moved to FAILED, by the state they were in. */
  failed: Record<string, number>;
  /** Records deleted, by state. */
  deleted: Record<string, number>;
  /** History rows removed with the deleted records (and older ones of records deleted before). */
  historyRowsRemoved: number;
  /** Watches must start after this revision; absent when nothing was compacted. */
  compactedRevision?: number;
}

/**
 * Records handled per transaction: big enough to amortise the fsync, small enough that a pass
 * over a large database never holds the write lock (and the event loop) for long.
 */
const BATCH = 500;

const failInTx: Record<NodeDatabaseKind, (db: NodeDatabase, id: string, message: string, now: number) => void> = {
  requester: (db, jobId, message, now) => updateJobStateInTx(db, { jobId, newState: 'FAILED', message }, now),
  compute: (db, executionId, message, now) => updateExecutionStateInTx(db, { executionId, newState: 'FAILED', message }, now),
};

/**
 * Applies `policy` to one node database: stale non-terminal records move to FAILED through the
 * ordinary state change (history row, counters, watches), old terminal records are deleted and
 * the history is compacted through their last revision. Only states with a rule are touched,
 * and a non-terminal record is never deleted: the policy parser allows `delete` on terminal
 * states only, and the delete below also checks the state in its WHERE clause.
 */
export async function applyRetention(
  db: NodeDatabase,
  kind: NodeDatabaseKind,
  nodeId: string,
  policy: RetentionPolicy,
  now: number,
): Promise<RetentionReport> {
  const report: RetentionReport = { kind, nodeId, failed: {}, deleted: {}, historyRowsRemoved: 0 };
  for (const [state, rule] of Object.entries(policy)) {
    const cutoff = now - rule.olderThanMs;
    for (;;) {
      const handled = await db.write(() =>
        rule.action === 'fail' ? failStaleInTx(db, kind, state, rule, cutoff, now) : deleteOldInTx(db, kind, state, cutoff, report),
      );
      if (handled > 0) {
        const tally = rule.action === 'fail' ? report.failed : report.deleted;
        tally[state] = (tally[state] ?? 0) + handled;
      }
      if (handled < BATCH) break;
    }
  }
  return report;
}

function staleIdsInTx(db: NodeDatabase, kind: NodeDatabaseKind, state: string, cutoff: number): { id: string; modify_time: number }[] {
  const { records } = HISTORY_TABLES[kind];
  return db
    .statement(`SELECT id, modify_time FROM ${records} WHERE state = ? AND modify_time < ? ORDER BY modify_time, id LIMIT ${BATCH}`)
    .all(state, cutoff) as { id: string; modify_time: number }[];
}

function failStaleInTx(db: NodeDatabase, kind: NodeDatabaseKind, state: string, rule: RetentionRule, cutoff: number, now: number): number {
  const stale = staleIdsInTx(db, kind, state, cutoff);
  for (const { id, modify_time } of stale) {
    const message = `failed by retention: ${state} with no change since ${new Date(modify_time).toISOString()} (longer than ${rule.olderThanMs} ms)`;
    failInTx[kind](db, id, message, now);
  }
  return stale.length;
}

function deleteOldInTx(db: NodeDatabase, kind: NodeDatabaseKind, state: string, cutoff: number, report: RetentionReport): number {
  const { table, records, recordColumn } = HISTORY_TABLES[kind];
  const old = staleIdsInTx(db, kind, state, cutoff);
  if (old.length === 0) return 0;
  const ids = old.map((row) => row.id);
  const list = ids.map(() => '?').join(', ');
  const { last } = db.statement(`SELECT max(revision) AS last FROM ${table} WHERE ${recordColumn} IN (${list})`).get(...ids) as {
    last: number | null;
  };
  // Specs, labels, results and (for jobs) executions go with their record through ON DELETE CASCADE.
  db.statement(`DELETE FROM ${records} WHERE state = ? AND id IN (${list})`).run(state, ...ids);
  if (last !== null) {
    const compaction = compactHistoryInTx(db, kind, last);
    report.historyRowsRemoved += compaction.deletedRows;
    report.compactedRevision = compaction.compactedRevision;
  }
  return old.length;
}
