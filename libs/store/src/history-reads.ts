import { JobkeepError } from '@jobkeep/errors';
import type { NodeDatabaseKind } from './database-locations.js';
import { EXECUTION_EVENT_COLUMNS, executionEventFromRow, type ExecutionEventRow } from './execution-rows.js';
import type { HistoryBounds, HistoryEvent, HistoryFilter, HistoryPage } from './history-feed.js';
import { JOB_EVENT_COLUMNS, jobEventFromRow, type JobEventRow } from './job-rows.js';
import type { NodeDatabase } from './node-database.js';

/** Where each kind of node database keeps its history, and the records the history is about. */
export interface HistoryTable<E extends HistoryEvent = HistoryEvent> {
  table: string;
  columns: string;
  fromRow: (row: never) => E;
  /** The records a row belongs to, and the row's column naming one: what compaction checks. */
  records: string;
  recordColumn: string;
}

export const HISTORY_TABLES = {
  requester: {
    table: 'job_history',
    columns: JOB_EVENT_COLUMNS,
    fromRow: (row: JobEventRow) => jobEventFromRow(row),
    records: 'jobs',
    recordColumn: 'job_id',
  },
  compute: {
    table: 'execution_history',
    columns: EXECUTION_EVENT_COLUMNS,
    fromRow: (row: ExecutionEventRow) => executionEventFromRow(row),
    records: 'executions',
    recordColumn: 'execution_id',
  },
} as const satisfies Record<NodeDatabaseKind, HistoryTable>;

/*
 * Reads of a node database's history for watches; each runs inside the caller's transaction,
 * so that the bounds and the rows of one page come from the same snapshot.
 */

/** The highest revision compaction may have removed; a watch cannot start at or below it. */
export function selectCompactedRevision(db: NodeDatabase): number {
  const row = db.statement("SELECT value FROM store_meta WHERE key = 'compacted_revision'").get() as
    | { value: number }
    | undefined;
  return row?.value ?? 0;
}

/**
 * The last revision handed out. sqlite_sequence keeps it even after compaction has removed the
 * rows that carried it (AUTOINCREMENT), so the current revision never goes back.
 */
export function selectHistoryHead(db: NodeDatabase, kind: NodeDatabaseKind): number {
  const { table } = HISTORY_TABLES[kind];
  const row = db
    .statement(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '${table}'), 0),
                  coalesce((SELECT max(revision) FROM ${table}), 0)) AS revision`,
    )
    .get() as { revision: number };
  return row.revision;
}

export function selectHistoryBounds(db: NodeDatabase, kind: NodeDatabaseKind): HistoryBounds {
  return { currentRevision: selectHistoryHead(db, kind), oldestRevision: selectCompactedRevision(db) + 1 };
}

/** OUT_OF_RANGE for a watch or a page that would start where the history has been compacted. */
export function revisionCompacted(revision: number, oldestRevision: number): JobkeepError {
  return new JobkeepError(
    'OUT_OF_RANGE',
    `revision ${revision} has been compacted; the oldest available revision is ${oldestRevision}`,
  );
}

/**
 * Reads up to `limit` rows from `fromRevision` and keeps those that match. The job filter is in
 * the query (an index serves it); types and states are checked here, on rows already read, so
 * that a page is never a scan of the whole history looking for a rare match.
 */
export function selectHistoryPage(
  db: NodeDatabase,
  kind: NodeDatabaseKind,
  fromRevision: number,
  filter: HistoryFilter,
  limit: number,
): HistoryPage<HistoryEvent> {
  const compacted = selectCompactedRevision(db);
  if (fromRevision <= compacted) throw revisionCompacted(fromRevision, compacted + 1);
  const currentRevision = selectHistoryHead(db, kind);
  const { table, columns } = HISTORY_TABLES[kind];
  const fromRow: (row: never) => HistoryEvent = HISTORY_TABLES[kind].fromRow;
  const jobId = filter.jobId ?? '';
  const read = db
    .statement(
      `SELECT ${columns} FROM ${table} WHERE revision >= ? ${jobId === '' ? '' : 'AND job_id = ?'}
       ORDER BY revision LIMIT ?`,
    )
    .all(fromRevision, ...(jobId === '' ? [] : [jobId]), limit)
    .map((row) => fromRow(row as never));
  const types = new Set<string>(filter.types ?? []);
  const states = new Set<string>(filter.newStates ?? []);
  const events = read.filter(
    (event) => (types.size === 0 || types.has(event.type)) && (states.size === 0 || states.has(event.newState)),
  );
  // A short page read everything up to the current revision; a full one stops at its last row.
  const last = read.length === limit ? read[read.length - 1]!.revision : currentRevision;
  return { events, nextRevision: Math.max(fromRevision, last + 1), currentRevision };
}
