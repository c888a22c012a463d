import type { NodeDatabaseKind } from './database-locations.js';
import type { SqliteDatabase } from './sqlite-connection.js';
import { SqliteHandle } from './sqlite-handle.js';

/**
 * Where each kind of node database keeps its state-bearing records and the per-state counters
 * that triggers maintain over them (see the schemas): what the pool reports at open and what
 * the consistency check compares.
 */
export const STATE_COUNTERS: Readonly<Record<NodeDatabaseKind, { records: string; counters: string }>> = {
  requester: { records: 'jobs', counters: 'job_state_counts' },
  compute: { records: 'executions', counters: 'execution_state_counts' },
};

/**
 * The counters as stored, by state. A few rows whatever the size of the database: this is what
 * lets an open report its counts without scanning the records. An open database's handle reuses
 * its prepared statement, since every metrics scrape reads every open database's counters.
 */
export function readStateCounters(db: SqliteDatabase | SqliteHandle, kind: NodeDatabaseKind): Record<string, number> {
  const sql = `SELECT state, count FROM ${STATE_COUNTERS[kind].counters} ORDER BY state`;
  const rows = (db instanceof SqliteHandle ? db.statement(sql) : db.prepare(sql)).all() as {
    state: string;
    count: number;
  }[];
  return Object.fromEntries(rows.map((row) => [row.state, row.count]));
}
