import Database from 'better-sqlite3';
import { failedPrecondition, invalidArgument } from '@jobkeep/errors';
import type { NodeDatabaseKind } from './database-locations.js';
import type { SqliteDatabase } from './sqlite-connection.js';

export const EXPORT_FORMAT = 'jobkeep-export';
export const EXPORT_VERSION = 1;

/** The first line of an export: what it holds, and the schema version of the file it came from. */
export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  kind: 'coordination' | NodeDatabaseKind;
  schema: number;
}

/** One open export: a header, how many row lines follow, and the lines themselves. */
export interface DatabaseExport {
  header: ExportHeader;
  /** Row lines `lines()` yields after the header, for a progress bar. */
  totalRows: number;
  /** The header, then one line per row; no newlines. Once only; the file is closed at the end. */
  lines(): Generator<string>;
  /** Ends the read and closes the file; for a caller that never calls (or finishes) `lines()`. */
  close(): void;
}

/**
 * Tables the triggers keep from the rows of others. They are left out of an export: an import
 * inserts the rows, and the triggers rebuild the counts as they would have been kept.
 */
export const TRIGGER_KEPT_TABLES: ReadonlySet<string> = new Set(['job_state_counts', 'execution_state_counts', 'batch_state_counts']);

/** The name under which the AUTOINCREMENT counters travel, as SQLite names their table. */
export const SEQUENCE_TABLE = 'sqlite_sequence';

/** A table only one kind of database has, tried in this order. */
const KIND_MARKERS: readonly [string, ExportHeader['kind']][] = [
  ['jobs', 'requester'],
  ['execution_history', 'compute'],
  ['leases', 'coordination'],
];

/**
 * Opens `file` read-only and starts one read transaction, so that every line comes from the same
 * snapshot even while a server writes the file (WAL lets the reader keep its snapshot). Rows are
 * streamed table by table, parents before children, so that an import can insert them in order.
 */
export function exportDatabase(file: string): DatabaseExport {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  let started = false;
  const close = () => {
    if (!db.open) return;
    if (db.inTransaction) db.exec('ROLLBACK');
    db.close();
  };
  try {
    db.exec('BEGIN');
    // The first read fixes the snapshot: everything below, and every line, sees this one.
    const header = readHeader(db, file);
    const tables = exportOrder(db);
    let totalRows = 0;
    for (const table of tables) totalRows += (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
    const sequences = hasTable(db, SEQUENCE_TABLE) ? (db.prepare(`SELECT count(*) AS n FROM ${SEQUENCE_TABLE}`).get() as { n: number }).n : 0;
    totalRows += sequences;
    function* lines(): Generator<string> {
      if (started) throw new Error('the lines of an export can be read once only');
      started = true;
      try {
        yield JSON.stringify(header);
        for (const table of tables) {
          const rows = db.prepare(`SELECT * FROM "${table}" ORDER BY ${rowOrder(db, table)}`).safeIntegers(true);
          for (const row of rows.iterate()) {
            yield JSON.stringify({ table, row: encodeRow(table, row as Record<string, unknown>) });
          }
        }
        if (sequences > 0) {
          for (const row of db.prepare(`SELECT name, seq FROM ${SEQUENCE_TABLE} ORDER BY name`).safeIntegers(true).iterate()) {
            yield JSON.stringify({ table: SEQUENCE_TABLE, row: encodeRow(SEQUENCE_TABLE, row as Record<string, unknown>) });
          }
        }
      } finally {
        close();
      }
    }
    return { header, totalRows, lines, close };
  } catch (error) {
    close();
    throw error;
  }
}

function readHeader(db: SqliteDatabase, file: string): ExportHeader {
  const kind = KIND_MARKERS.find(([table]) => hasTable(db, table))?.[1];
  if (kind === undefined) throw invalidArgument(`${file} is not a jobkeep database: it has none of the tables jobs, execution_history or leases`);
  return { format: EXPORT_FORMAT, version: EXPORT_VERSION, kind, schema: db.pragma('user_version', { simple: true }) as number };
}

function hasTable(db: SqliteDatabase, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

/** Every user table, as the schema lists it (sqlite_sequence and other internal ones excluded). */
function userTables(db: SqliteDatabase): string[] {
  const rows = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").all() as {
    name: string;
  }[];
  return rows.map((row) => row.name);
}

/**
 * The exported tables, each after every table it depends on: those its foreign keys name, and
 * those a trigger on it writes through (a job's insert counts it in batch_state_counts, which
 * refers to batches, so batches come before jobs). Otherwise by name, so that the order is stable.
 */
export function exportOrder(db: SqliteDatabase): string[] {
  const tables = userTables(db).filter((table) => !TRIGGER_KEPT_TABLES.has(table));
  const parents = new Map<string, Set<string>>();
  const foreignKeys = (table: string) => (db.pragma(`foreign_key_list("${table}")`) as { table: string }[]).map((key) => key.table);
  for (const table of tables) parents.set(table, new Set(foreignKeys(table).filter((parent) => parent !== table)));
  const triggers = db.prepare("SELECT tbl_name AS on_table, sql FROM sqlite_schema WHERE type = 'trigger'").all() as { on_table: string; sql: string }[];
  for (const kept of TRIGGER_KEPT_TABLES) {
    const keptParents = userTables(db).includes(kept) ? foreignKeys(kept) : [];
    for (const trigger of triggers) {
      if (!new RegExp(`\\b${kept}\\b`).test(trigger.sql)) continue;
      for (const parent of keptParents) if (parent !== trigger.on_table) parents.get(trigger.on_table)?.add(parent);
    }
  }
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (table: string) => {
    if (ordered.includes(table) || visiting.has(table) || !parents.has(table)) return;
    visiting.add(table); // a cycle of foreign keys is broken where it closes; the import defers them
    for (const parent of [...parents.get(table)!].sort()) visit(parent);
    ordered.push(table);
  };
  for (const table of tables) visit(table);
  return ordered;
}

/**
 * Rows in primary key order (the rowid when the table declares none), so that two files holding
 * the same rows give the same lines.
 */
function rowOrder(db: SqliteDatabase, table: string): string {
  const key = (db.pragma(`table_info("${table}")`) as { name: string; pk: number }[]).filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk);
  return key.length > 0 ? key.map((column) => `"${column.name}"`).join(', ') : 'rowid';
}

/**
 * Blobs as `{"$base64": ...}`; every other SQLite value is already a JSON value. Integers are read
 * exactly (as bigints) so that one past 2^53, which a JSON number would round, is refused
 * rather than exported wrong.
 */
function encodeRow(table: string, row: Record<string, unknown>): Record<string, unknown> {
  const encoded: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (typeof value === 'bigint') {
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw failedPrecondition(`column ${column} of a row of ${table} holds ${value}, an integer a JSON export cannot carry exactly`);
      }
      encoded[column] = Number(value);
    } else {
      encoded[column] = Buffer.isBuffer(value) ? { $base64: value.toString('base64') } : value;
    }
  }
  return encoded;
}
