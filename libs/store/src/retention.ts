import { setImmediate as yieldToIo } from 'node:timers/promises';
import type { NodeDatabaseKind } from './database-locations.js';
import { updateExecutionStateInTx } from './execution-writes.js';
import { compactHistoryInTx } from './history-compaction.js';
import { HISTORY_TABLES, selectCompactedRevision } from './history-reads.js';
import { failJobInTx } from './job-writes.js';
import type { NodeDatabase } from './node-database.js';
import type { RetentionPolicy, RetentionRule } from './retention-policy.js';
import { NOT_FROZEN } from './job-moves-schema.js';

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
  /** Batches removed because they hold no job any more (see emptyBatchCutoff); 0 in compute databases. */
  batchesDeleted: number;
  /** Request ids of creates older than REQUEST_ID_MEMORY_MS, forgotten. */
  requestIdsRemoved: number;
}

/**
 * Records handled per transaction: big enough to amortise the fsync, small enough that a pass
 * over a large database never holds the write lock (and the event loop) for long. Between
 * batches the pass yields to I/O, so keep-alives and other calls go on during a long pass.
 */
const BATCH = 500;

/**
 * How long a create's request id is remembered, whatever became of its record since: a create
 * retried with it within this time gets the first one's answer, or learns that its record has
 * been deleted; a create after that is a new one. A day is far beyond any client's retries, as
 * public APIs that take idempotency keys commonly keep them for about that long. Forgetting
 * them is what keeps the request ids of a database that retention keeps small from growing with
 * every create ever made (a batch's holds all its job ids).
 */
const REQUEST_ID_MEMORY_MS = 24 * 3_600_000;

const failInTx: Record<NodeDatabaseKind, (db: NodeDatabase, id: string, message: string, now: number) => void> = {
  requester: failJobInTx,
  compute: (db, executionId, message, now) => updateExecutionStateInTx(db, { executionId, newState: 'FAILED', message }, now),
};

/** How a pass of retention runs. */
export interface RetentionOptions {
  /** Report what the pass would do, from one snapshot, and write nothing. */
  dryRun?: boolean;
  /** Aborted when the server stops: the pass ends after the batch in progress. */
  signal?: AbortSignal;
}

/**
 * Applies `policy` to one node database: stale non-terminal records move to FAILED through the
 * ordinary state change (history row, counters, watches), old terminal records are deleted, and
 * then the history is compacted through their last revision. An aborted `signal` ends the pass
 * after the batch in progress (and that state's compaction): the server is stopping. Only states with a rule are touched,
 * and a non-terminal record is never deleted: the policy parser allows `delete` on terminal
 * states only, and the delete below also checks the state in its WHERE clause. With `dryRun`
 * the same report comes from counting, and the file is not written.
 */
export async function applyRetention(
  database: () => NodeDatabase,
  kind: NodeDatabaseKind,
  nodeId: string,
  policy: RetentionPolicy,
  now: number,
  options: RetentionOptions = {},
): Promise<RetentionReport> {
  if (options.dryRun) return previewRetention(database(), kind, nodeId, policy, now);
  const { signal } = options;
  const report = emptyReport(kind, nodeId);
  for (const [state, rule] of Object.entries(policy)) {
    const cutoff = now - rule.olderThanMs;
    // The highest history revision of the records deleted so far: compacted once, at the end,
    // since compaction reads the history up to its mark and would make a long pass quadratic.
    let lastDeletedRevision = 0;
    for (;;) {
      // Asked for again each batch: between batches the pool may have closed the handle.
      const db = database();
      // Recorded once committed: a write may run twice (NodeDatabase.write).
      const { count: handled, lastRevision } = await db.write(() =>
        rule.action === 'fail' ? { count: failStaleInTx(db, kind, state, rule, cutoff, now), lastRevision: 0 } : deleteOldInTx(db, kind, state, cutoff),
      );
      lastDeletedRevision = Math.max(lastDeletedRevision, lastRevision);
      if (handled > 0) {
        const tally = rule.action === 'fail' ? report.failed : report.deleted;
        tally[state] = (tally[state] ?? 0) + handled;
      }
      if (handled < BATCH || signal?.aborted) break;
      await yieldToIo();
    }
    if (lastDeletedRevision > 0) {
      const db = database();
      const compaction = await db.write(() => compactHistoryInTx(db, kind, lastDeletedRevision));
      report.historyRowsRemoved += compaction.deletedRows;
      report.compactedRevision = compaction.compactedRevision;
    }
  }
  const batchCutoff = emptyBatchCutoff(kind, policy, now);
  if (batchCutoff !== undefined) report.batchesDeleted = await deleteInBatches(database, signal, (db) => deleteEmptyBatchesInTx(db, batchCutoff));
  const requestIdCutoff = now - REQUEST_ID_MEMORY_MS;
  report.requestIdsRemoved = await deleteInBatches(database, signal, (db) => forgetRequestIdsInTx(db, requestIdCutoff));
  return report;
}

function emptyReport(kind: NodeDatabaseKind, nodeId: string): RetentionReport {
  return { kind, nodeId, failed: {}, deleted: {}, historyRowsRemoved: 0, batchesDeleted: 0, requestIdsRemoved: 0 };
}

/**
 * Runs `deleteInTx`, which removes up to BATCH rows and says how many, one transaction at a
 * time until it removes fewer or the pass is aborted, yielding to I/O in between; returns the total.
 */
async function deleteInBatches(
  database: () => NodeDatabase,
  signal: AbortSignal | undefined,
  deleteInTx: (db: NodeDatabase) => number,
): Promise<number> {
  let total = 0;
  while (!signal?.aborted) {
    const db = database();
    const removed = await db.write(() => deleteInTx(db));
    total += removed;
    if (removed < BATCH) break;
    await yieldToIo();
  }
  return total;
}

/** Forgets up to BATCH request ids of creates made before `cutoff`, oldest first; returns how many. */
function forgetRequestIdsInTx(db: NodeDatabase, cutoff: number): number {
  return db
    .statement(`DELETE FROM request_ids WHERE request_id IN (SELECT request_id FROM request_ids WHERE create_time < ? ORDER BY create_time LIMIT ${BATCH})`)
    .run(cutoff).changes;
}

/**
 * Before when a batch must have completed for retention to remove it once it holds no job: as
 * long ago as the policy's shortest delete rule, so that a batch goes with (or after) its last
 * jobs, and a batch that completed with no job of its own (every job a duplicate) lives as long
 * as a job would. Undefined, and no batch is ever removed, without a delete rule: its jobs stay.
 */
function emptyBatchCutoff(kind: NodeDatabaseKind, policy: RetentionPolicy, now: number): number | undefined {
  const ages = Object.values(policy).filter((rule) => rule.action === 'delete').map((rule) => rule.olderThanMs);
  return kind === 'requester' && ages.length > 0 ? now - Math.min(...ages) : undefined;
}

/**
 * The batches that completed before a cutoff (the first parameter) and hold no job, not counting
 * the jobs `leaving` (an SQL condition on `jobs`): what deleteEmptyBatchesInTx removes.
 */
function oldEmptyBatches(leaving = 'false'): string {
  return `FROM batches WHERE complete_time < ?
    AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id AND jobs.batch_id <> '' AND NOT (${leaving}))`;
}

/** Removes up to BATCH empty batches that completed before `cutoff` (their counts go with them); returns how many. */
function deleteEmptyBatchesInTx(db: NodeDatabase, cutoff: number): number {
  const ids = (db.statement(`SELECT id ${oldEmptyBatches()} ORDER BY complete_time LIMIT ${BATCH}`).all(cutoff) as { id: string }[]).map((row) => row.id);
  if (ids.length > 0) db.statement(`DELETE FROM batches WHERE id IN (${ids.map(() => '?').join(', ')})`).run(...ids);
  return ids.length;
}

function staleIdsInTx(db: NodeDatabase, kind: NodeDatabaseKind, state: string, cutoff: number): { id: string; modify_time: number }[] {
  const { records } = HISTORY_TABLES[kind];
  // A job a drain has frozen is on its way to another node, where retention will judge it.
  const movable = kind === 'requester' ? `AND ${NOT_FROZEN}` : '';
  return db
    .statement(`SELECT id, modify_time FROM ${records} WHERE state = ? AND modify_time < ? ${movable} ORDER BY modify_time, id LIMIT ${BATCH}`)
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

/** Deletes a batch of old records; their history goes at the compaction that ends the pass. */
function deleteOldInTx(db: NodeDatabase, kind: NodeDatabaseKind, state: string, cutoff: number): { count: number; lastRevision: number } {
  const { table, records, recordColumn } = HISTORY_TABLES[kind];
  const old = staleIdsInTx(db, kind, state, cutoff);
  if (old.length === 0) return { count: 0, lastRevision: 0 };
  const ids = old.map((row) => row.id);
  const list = ids.map(() => '?').join(', ');
  const { last } = db.statement(`SELECT max(revision) AS last FROM ${table} WHERE ${recordColumn} IN (${list})`).get(...ids) as {
    last: number | null;
  };
  // Specs, labels, results and (for jobs) executions go with their record through ON DELETE CASCADE.
  db.statement(`DELETE FROM ${records} WHERE state = ? AND id IN (${list})`).run(state, ...ids);
  return { count: old.length, lastRevision: last ?? 0 };
}

/**
 * What applyRetention would report, counted in one read transaction. The counts follow from how
 * a real pass goes: a fail rule moves every stale record (stamped `now`, so no delete rule of
 * the same pass takes it), a delete rule removes every old record of its state, and since each
 * compaction runs through the last revision of the records just deleted, all their history
 * goes, and so does the history of records deleted earlier (by hand) up to the highest mark.
 */
function previewRetention(db: NodeDatabase, kind: NodeDatabaseKind, nodeId: string, policy: RetentionPolicy, now: number): RetentionReport {
  const { table, records, recordColumn } = HISTORY_TABLES[kind];
  return db.read(() => {
    const report = emptyReport(kind, nodeId);
    let highestMark = 0;
    for (const [state, rule] of Object.entries(policy)) {
      const cutoff = now - rule.olderThanMs;
      const matching = `SELECT id FROM ${records} WHERE state = ? AND modify_time < ? ${kind === 'requester' ? `AND ${NOT_FROZEN}` : ''}`;
      const { count } = db.statement(`SELECT count(*) AS count FROM (${matching})`).get(state, cutoff) as { count: number };
      if (count === 0) continue;
      if (rule.action === 'fail') {
        report.failed[state] = count;
        continue;
      }
      report.deleted[state] = count;
      const history = db
        .statement(`SELECT count(*) AS rows, max(revision) AS last FROM ${table} WHERE ${recordColumn} IN (${matching})`)
        .get(state, cutoff) as { rows: number; last: number | null };
      if (history.last === null) continue;
      report.historyRowsRemoved += history.rows;
      highestMark = Math.max(highestMark, history.last);
      report.compactedRevision = Math.max(selectCompactedRevision(db), highestMark);
    }
    if (highestMark > 0) {
      const orphans = db
        .statement(
          `SELECT count(*) AS rows FROM ${table} WHERE revision <= ?
             AND NOT EXISTS (SELECT 1 FROM ${records} r WHERE r.id = ${table}.${recordColumn})`,
        )
        .get(highestMark) as { rows: number };
      report.historyRowsRemoved += orphans.rows;
    }
    const batchCutoff = emptyBatchCutoff(kind, policy, now);
    if (batchCutoff !== undefined) {
      // Empty once the pass has deleted every job the delete rules take (a job a fail rule moves
      // is stamped now, and stays): a batch none of whose jobs is left out.
      const rules = Object.entries(policy).filter(([, rule]) => rule.action === 'delete');
      const deletable = rules.map(() => `(jobs.state = ? AND jobs.modify_time < ? AND ${NOT_FROZEN})`).join(' OR ');
      const { count } = db
        .statement(`SELECT count(*) AS count ${oldEmptyBatches(deletable)}`)
        .get(batchCutoff, ...rules.flatMap(([state, rule]) => [state, now - rule.olderThanMs])) as { count: number };
      report.batchesDeleted = count;
    }
    report.requestIdsRemoved = (db.statement('SELECT count(*) AS count FROM request_ids WHERE create_time < ?').get(now - REQUEST_ID_MEMORY_MS) as { count: number }).count;
    return report;
  });
}
