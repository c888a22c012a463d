import { invalidArgument } from '@jobkeep/errors';
import type { NodeDatabaseKind } from './database-locations.js';
import { HISTORY_TABLES, selectCompactedRevision, selectHistoryHead } from './history-reads.js';
import type { NodeDatabase } from './node-database.js';

export interface HistoryCompaction {
  /** The compacted revision afterwards: watches must start after it. */
  compactedRevision: number;
  /** History rows removed. */
  deletedRows: number;
}

/**
 * Removes the history rows at or below `throughRevision` whose record no longer exists, and
 * records that the history up to there is no longer whole, so that a watch asking for it gets
 * OUT_OF_RANGE rather than a replay with holes. A live record keeps its whole history: it is
 * what recovery and GetJobHistory read. The compacted revision never goes back. Runs inside the
 * caller's write transaction (retention's), whose commit wakes the watches, which then check
 * their cursor against the new mark before reading on.
 */
export function compactHistoryInTx(db: NodeDatabase, kind: NodeDatabaseKind, throughRevision: number): HistoryCompaction {
  const current = selectHistoryHead(db, kind);
  if (!Number.isSafeInteger(throughRevision) || throughRevision < 0 || throughRevision > current) {
    throw invalidArgument(`cannot compact the history through revision ${throughRevision}: the current revision is ${current}`);
  }
  const { table, records, recordColumn } = HISTORY_TABLES[kind];
  const deleted = db
    .statement(
      `DELETE FROM ${table} WHERE revision <= ?
         AND NOT EXISTS (SELECT 1 FROM ${records} r WHERE r.id = ${table}.${recordColumn})`,
    )
    .run(throughRevision);
  const compactedRevision = Math.max(selectCompactedRevision(db), throughRevision);
  db.statement("UPDATE store_meta SET value = ? WHERE key = 'compacted_revision'").run(compactedRevision);
  return { compactedRevision, deletedRows: deleted.changes };
}
