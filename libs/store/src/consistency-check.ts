import Database from 'better-sqlite3';
import { computeMigrations } from './compute-schema.js';
import type { NodeDatabaseKind } from './database-locations.js';
import type { Migrations } from './migrations.js';
import { requesterMigrations } from './requester-schema.js';
import { STATE_COUNTERS, readStateCounters } from './state-counters.js';
import type { SqliteDatabase } from './sqlite-connection.js';
import { inReadTransaction, requireDatabaseFile } from './database-tables.js';
import { LIVE_JOB_STATES_SQL } from './job-model.js';

export interface ConsistencyProblem {
  check: 'schema' | 'integrity' | 'foreign-keys' | 'counters' | 'revisions' | 'batches' | 'locks' | 'nodes';
  message: string;
}

const MIGRATIONS: Record<NodeDatabaseKind, Migrations> = { requester: requesterMigrations, compute: computeMigrations };

/** Records whose `revision` must name a history row about them, per kind of database. */
const REVISIONED_RECORDS: Record<NodeDatabaseKind, { what: string; table: string; historyTable: string; historyKey: string }[]> = {
  requester: [
    { what: 'job', table: 'jobs', historyTable: 'job_history', historyKey: 'job_id' },
    { what: 'execution', table: 'executions', historyTable: 'job_history', historyKey: 'execution_id' },
  ],
  compute: [{ what: 'execution', table: 'executions', historyTable: 'execution_history', historyKey: 'execution_id' }],
};

/** Past this many problems of one kind, the rest are summed up rather than listed. */
export const MAX_LISTED = 100;

/**
 * Checks a node database file for what the store's transactions guarantee: the per-state
 * counters equal a count of the rows, every record's revision is a history row about that
 * record (unless retention compacted it away), and SQLite's own integrity and foreign keys
 * hold. Opens the file read-only and migrates nothing, so that an admin tool may run it on a
 * closed file, or on one a server has open. An empty list means the file is consistent.
 */
export function checkNodeDatabase(kind: NodeDatabaseKind, file: string): ConsistencyProblem[] {
  requireDatabaseFile(file);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    // One snapshot for every check, so that a server writing meanwhile cannot cause a
    // mismatch between the counters and the rows.
    return inReadTransaction(db, () => [...reported(() => checkSqlite(db)), ...reported(() => checkContent(db, kind))]);
  } finally {
    db.close();
  }
}

/** A file damaged enough to make a check's statement fail is a finding, not a crash of the check. */
export function reported(check: () => ConsistencyProblem[]): ConsistencyProblem[] {
  try {
    return check();
  } catch (error) {
    return [{ check: 'integrity', message: `the check could not read the file: ${(error as Error).message}` }];
  }
}

/** A row that foreign_key_check reports, as SQLite names it. */
export interface ForeignKeyOrphan {
  table: string;
  rowid: number | null;
  parent: string;
}

/** SQLite's own checks; `reportedElsewhere` skips orphans a caller reports by name instead. */
export function checkSqlite(db: SqliteDatabase, reportedElsewhere: (orphan: ForeignKeyOrphan) => boolean = () => false): ConsistencyProblem[] {
  const problems: ConsistencyProblem[] = [];
  const integrity = db.pragma('integrity_check') as { integrity_check: string }[];
  for (const { integrity_check: message } of integrity) {
    if (message !== 'ok') problems.push({ check: 'integrity', message });
  }
  for (const orphan of db.pragma('foreign_key_check') as ForeignKeyOrphan[]) {
    if (reportedElsewhere(orphan)) continue;
    problems.push({ check: 'foreign-keys', message: `row ${orphan.rowid} of ${orphan.table} refers to a missing row of ${orphan.parent}` });
  }
  return problems;
}

function checkContent(db: SqliteDatabase, kind: NodeDatabaseKind): ConsistencyProblem[] {
  const version = db.pragma('user_version', { simple: true }) as number;
  const expected = MIGRATIONS[kind].length;
  if (version !== expected) {
    // The tables checked below are those of the latest schema; an older file is checked once
    // the server has migrated it, a newer one by the jobkeep that wrote it.
    return [{ check: 'schema', message: `schema version ${version}, not the ${expected} this jobkeep checks` }];
  }
  return [...checkCounters(db, kind), ...checkRevisions(db, kind), ...(kind === 'requester' ? checkBatches(db) : [])];
}

function checkCounters(db: SqliteDatabase, kind: NodeDatabaseKind): ConsistencyProblem[] {
  const { records, counters } = STATE_COUNTERS[kind];
  const stored = readStateCounters(db, kind);
  const rows = db.prepare(`SELECT state, count(*) AS count FROM ${records} GROUP BY state`).all() as { state: string; count: number }[];
  const actual = Object.fromEntries(rows.map((row) => [row.state, row.count]));
  const problems: ConsistencyProblem[] = [];
  for (const state of [...new Set([...Object.keys(stored), ...Object.keys(actual)])].sort()) {
    const counted = stored[state] ?? 0;
    const present = actual[state] ?? 0;
    if (counted !== present) {
      problems.push({ check: 'counters', message: `${counters} says ${counted} ${records} are ${state}, but ${present} are` });
    }
  }
  return problems;
}

function checkRevisions(db: SqliteDatabase, kind: NodeDatabaseKind): ConsistencyProblem[] {
  const compacted = (db.prepare(`SELECT value FROM store_meta WHERE key = 'compacted_revision'`).get() as { value: number } | undefined)?.value ?? 0;
  const problems: ConsistencyProblem[] = [];
  for (const { what, table, historyTable, historyKey } of REVISIONED_RECORDS[kind]) {
    const missing = db
      .prepare(
        `SELECT id, revision FROM ${table} r WHERE revision > ? AND NOT EXISTS
           (SELECT 1 FROM ${historyTable} h WHERE h.revision = r.revision AND h.${historyKey} = r.id)
         ORDER BY id LIMIT ?`,
      )
      .all(compacted, MAX_LISTED + 1) as { id: string; revision: number }[];
    for (const record of missing.slice(0, MAX_LISTED)) {
      problems.push({ check: 'revisions', message: `${what} ${record.id} is at revision ${record.revision}, which no ${historyTable} row about it has` });
    }
    if (missing.length > MAX_LISTED) {
      problems.push({ check: 'revisions', message: `and more ${table} whose revision has no history row; only the first ${MAX_LISTED} are listed` });
    }
  }
  return problems;
}

/**
 * Batches: their per-state counts equal a count of their jobs, a completed batch has no live
 * job, and a batch whose jobs have all ended has been completed (its BATCH_COMPLETED written),
 * unless a drain moved some of its jobs to another node, where the batch completes instead.
 */
function checkBatches(db: SqliteDatabase): ConsistencyProblem[] {
  const mismatches = db
    .prepare(
      `WITH actual AS (SELECT batch_id, state, count(*) AS count FROM jobs WHERE batch_id <> '' GROUP BY batch_id, state),
            stored AS (SELECT batch_id, state, count FROM batch_state_counts WHERE count <> 0)
       SELECT coalesce(a.batch_id, s.batch_id) AS batch_id, coalesce(a.state, s.state) AS state,
              coalesce(s.count, 0) AS counted, coalesce(a.count, 0) AS present
       FROM actual a FULL OUTER JOIN stored s ON s.batch_id = a.batch_id AND s.state = a.state
       WHERE coalesce(s.count, 0) <> coalesce(a.count, 0) ORDER BY 1, 2 LIMIT ?`,
    )
    .all(MAX_LISTED) as { batch_id: string; state: string; counted: number; present: number }[];
  const problems: ConsistencyProblem[] = mismatches.map((row) => ({
    check: 'counters',
    message: `batch_state_counts says batch ${row.batch_id} has ${row.counted} ${row.state} jobs, but it has ${row.present}`,
  }));
  const live = `SELECT 1 FROM jobs j WHERE j.batch_id = b.id AND j.state IN ${LIVE_JOB_STATES_SQL}`;
  const wrong = db
    .prepare(
      `SELECT id, complete_revision IS NOT NULL AS completed FROM batches b
       WHERE (complete_revision IS NOT NULL AND EXISTS (${live}))
          OR (complete_revision IS NULL AND EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = b.id) AND NOT EXISTS (${live})
              AND NOT EXISTS (SELECT 1 FROM job_moves m WHERE m.batch_id = b.id AND m.direction = 'out'))
       ORDER BY id LIMIT ?`,
    )
    .all(MAX_LISTED) as { id: string; completed: number }[];
  for (const batch of wrong) {
    problems.push({
      check: 'batches',
      message: batch.completed
        ? `batch ${batch.id} is completed but still has jobs that have not ended`
        : `every job of batch ${batch.id} has ended, but the batch was never completed`,
    });
  }
  return problems;
}
