import fs from 'node:fs';
import { readSnapshot } from './database-tables.js';
import type { SqliteDatabase } from './sqlite-connection.js';

/** One b-tree of the file: a table (SQLite's own included) or an index. */
export interface StorageObjectStats {
  name: string;
  type: 'table' | 'index';
  /** The table an index belongs to; a table's own name for a table. */
  table: string;
  /** A table's rows, an index's entries. */
  rows: number;
  pages: number;
  bytes: number;
}

/** What a node database's history holds; times in milliseconds. */
export interface HistorySpan {
  rows: number;
  firstRevision: number;
  lastRevision: number;
  firstTime: number;
  lastTime: number;
  /** The highest revision retention may have removed. */
  compactedRevision: number;
}

export interface DatabaseStats {
  path: string;
  fileBytes: number;
  /** The write-ahead log beside the file, not yet checkpointed into it; 0 when there is none. */
  walBytes: number;
  pageSize: number;
  pageCount: number;
  freelistCount: number;
  objects: StorageObjectStats[];
  /** For a requester or compute database; absent for coordination.db. */
  history?: HistorySpan;
}

/** The history table of each kind of node database. */
const HISTORY_TABLES = ['job_history', 'execution_history'];

/**
 * Page and row figures of a database file, as bbolt's `stats` gives them, read from SQLite's
 * dbstat table (which this build of SQLite has) in one read-only snapshot.
 */
export function readDatabaseStats(file: string): DatabaseStats {
  return readSnapshot(file, (db) => ({
    path: file,
    fileBytes: fs.statSync(file).size,
    walBytes: fileSize(`${file}-wal`),
    pageSize: db.pragma('page_size', { simple: true }) as number,
    pageCount: db.pragma('page_count', { simple: true }) as number,
    freelistCount: db.pragma('freelist_count', { simple: true }) as number,
    objects: storageObjects(db),
    ...historySpan(db),
  }));
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function storageObjects(db: SqliteDatabase): StorageObjectStats[] {
  const schema = db.prepare(`SELECT name, type, tbl_name AS "table" FROM sqlite_schema WHERE type IN ('table', 'index')`).all() as {
    name: string;
    type: 'table' | 'index';
    table: string;
  }[];
  const byName = new Map(schema.map((entry) => [entry.name, entry]));
  const withoutRowid = new Set(db.prepare(`SELECT name FROM pragma_table_list WHERE schema = 'main' AND wr = 1`).pluck().all() as string[]);
  const trees = db
    .prepare(
      `SELECT name, count(*) AS pages, sum(pgsize) AS bytes,
              sum(CASE WHEN pagetype = 'leaf' THEN ncell ELSE 0 END) AS leafCells,
              sum(CASE WHEN pagetype = 'internal' THEN ncell ELSE 0 END) AS internalCells
       FROM dbstat('main') GROUP BY name`,
    )
    .all() as { name: string; pages: number; bytes: number; leafCells: number; internalCells: number }[];
  const objects = trees.map((tree): StorageObjectStats => {
    // sqlite_schema is the one b-tree that has no row in itself.
    const { type, table } = byName.get(tree.name) ?? { type: 'table' as const, table: tree.name };
    // A rowid table keeps its rows in leaf cells only (interior cells are rowid dividers); an
    // index or a WITHOUT ROWID table keeps each entry exactly once, interior cells included.
    const everyCellIsAnEntry = type === 'index' || withoutRowid.has(tree.name);
    const rows = tree.leafCells + (everyCellIsAnEntry ? tree.internalCells : 0);
    return { name: tree.name, type, table, rows, pages: tree.pages, bytes: tree.bytes };
  });
  // Each table, then its indexes.
  return objects.sort((a, b) => compare(a.table, b.table) || compare(rank(a), rank(b)) || compare(a.name, b.name));
}

function rank(object: StorageObjectStats): string {
  return object.type === 'table' ? '0' : '1';
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function historySpan(db: SqliteDatabase): { history?: HistorySpan } {
  const present = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?`).pluck();
  const table = HISTORY_TABLES.find((name) => present.get(name) !== undefined);
  if (table === undefined) return {};
  const compactedRevision = present.get('store_meta')
    ? ((db.prepare(`SELECT value FROM store_meta WHERE key = 'compacted_revision'`).pluck().get() as number | undefined) ?? 0)
    : 0;
  const rows = db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  // The ends by revision (the rowid), so each is one step down the b-tree.
  const first = db.prepare(`SELECT revision, time FROM ${table} ORDER BY revision LIMIT 1`).get() as { revision: number; time: number } | undefined;
  const last = db.prepare(`SELECT revision, time FROM ${table} ORDER BY revision DESC LIMIT 1`).get() as { revision: number; time: number } | undefined;
  return {
    history: {
      rows,
      firstRevision: first?.revision ?? 0,
      lastRevision: last?.revision ?? 0,
      firstTime: first?.time ?? 0,
      lastTime: last?.time ?? 0,
      compactedRevision,
    },
  };
}
