import Database from 'better-sqlite3';
import { failedPrecondition, invalidArgument } from '@jobkeep/errors';
import { computeMigrations } from './compute-schema.js';
import { SEQUENCE_TABLE, TRIGGER_KEPT_TABLES, exportOrder } from './database-export.js';
import type { NodeDatabaseKind } from './database-locations.js';
import type { Migrations } from './migrations.js';
import { requesterMigrations } from './requester-schema.js';
import type { SqliteDatabase } from './sqlite-connection.js';
import type { ExportRow, StagedExport } from './staged-export.js';

export interface ImportOutcome {
  rowsImported: number;
  /** The database already held exactly this export, and nothing was written. */
  unchanged: boolean;
}

const MIGRATIONS: Record<NodeDatabaseKind, Migrations> = { requester: requesterMigrations, compute: computeMigrations };

/** What importRows checks a row against: the columns of its table, and its key for comparisons. */
interface TableShape {
  columns: string[];
  /** Primary key columns; every column for a table without one (a row is then its own key). */
  key: string[];
}

/**
 * Loads a staged export into `db`, an open node database of `kind` at the export's schema
 * version, inside the caller's write transaction (so that a failure leaves nothing behind). Every
 * row is first checked against the database's tables, so that a refusal writes nothing even
 * outside a transaction. Into a database as new (only what its migrations wrote) every row is
 * inserted; the triggers rebuild the counters as they go. A database that already holds exactly
 * the export is left as it is (an import run twice changes nothing); any other is refused. SQL is
 * built from the names the database reports, never from the export's text. The rows are read
 * from the staging file in each pass, never held together.
 */
export function importRows(db: SqliteDatabase, kind: NodeDatabaseKind, staged: StagedExport): ImportOutcome {
  const { header } = staged;
  if (header.kind === 'coordination') throw invalidArgument('only node databases can be imported; this is an export of coordination.db');
  if (header.kind !== kind) throw invalidArgument(`an export of a ${header.kind} database cannot be imported into a ${kind} database`);
  const schema = db.pragma('user_version', { simple: true }) as number;
  if (header.schema !== schema) {
    throw failedPrecondition(`the export has schema version ${header.schema}, the database schema version ${schema}; they must be the same`);
  }
  const shapes = tableShapes(db);
  for (const entry of staged.rows()) decodeRow(entry, shapes, kind);
  const decoded = () => mapRows(staged.rows(), (entry) => ({ ...entry, row: decodeRow(entry, shapes, kind) }));
  const difference = firstDifference(db, staged.counts(), decoded(), shapes);
  if (difference === undefined) return { rowsImported: 0, unchanged: true };
  if (isNew(db, shapes, schema, kind)) return { rowsImported: insertAll(db, decoded(), shapes), unchanged: false };
  throw failedPrecondition(`database is not empty and differs from the export: ${difference}`);
}

function* mapRows<T>(rows: Iterable<ExportRow>, map: (row: ExportRow) => T): Generator<T> {
  for (const row of rows) yield map(row);
}

function tableShapes(db: SqliteDatabase): Map<string, TableShape> {
  const shapes = new Map<string, TableShape>();
  for (const table of exportOrder(db)) {
    const info = db.pragma(`table_info("${table}")`) as { name: string; pk: number }[];
    const key = info.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk);
    shapes.set(table, { columns: info.map((column) => column.name), key: (key.length > 0 ? key : info).map((column) => column.name) });
  }
  shapes.set(SEQUENCE_TABLE, { columns: ['name', 'seq'], key: ['name'] });
  return shapes;
}

/** A row with its blobs as bytes, once its table and columns are known to the database. */
function decodeRow(entry: ExportRow, shapes: Map<string, TableShape>, kind: NodeDatabaseKind): Record<string, unknown> {
  const where = `line ${entry.line}`;
  const shape = shapes.get(entry.table);
  if (shape === undefined) {
    if (TRIGGER_KEPT_TABLES.has(entry.table)) throw invalidArgument(`${where}: table ${entry.table} is kept by triggers and is never imported`);
    throw invalidArgument(`${where}: a ${kind} database has no table ${JSON.stringify(entry.table)}`);
  }
  const unknown = Object.keys(entry.row).filter((column) => !shape.columns.includes(column));
  if (unknown.length > 0) throw invalidArgument(`${where}: table ${entry.table} has no column ${unknown.map((column) => JSON.stringify(column)).join(', ')}`);
  const missing = shape.columns.filter((column) => !(column in entry.row));
  if (missing.length > 0) throw invalidArgument(`${where}: the row of ${entry.table} lacks column ${missing.join(', ')}`);
  const sequenced = entry.row.name !== SEQUENCE_TABLE && shapes.has(entry.row.name as string);
  if (entry.table === SEQUENCE_TABLE && (!sequenced || !Number.isSafeInteger(entry.row.seq))) {
    throw invalidArgument(`${where}: ${SEQUENCE_TABLE} rows name a table of the database and its last AUTOINCREMENT value`);
  }
  const decoded: Record<string, unknown> = {};
  for (const column of shape.columns) {
    const value = entry.row[column];
    const base64 = (value as { $base64?: unknown } | null)?.$base64;
    decoded[column] = typeof base64 === 'string' ? Buffer.from(base64, 'base64') : value;
  }
  return decoded;
}

/**
 * Whether the database holds only what its migrations wrote (store_meta's default row, say):
 * compared with a database migrated just now in memory, so that a seed added by a later
 * migration needs no change here.
 */
function isNew(db: SqliteDatabase, shapes: Map<string, TableShape>, schema: number, kind: NodeDatabaseKind): boolean {
  const seed = new Database(':memory:');
  try {
    for (const step of MIGRATIONS[kind].slice(0, schema)) seed.exec(step);
    for (const table of shapes.keys()) {
      const seeded = rowsOf(seed, table);
      // Counted first, so that a large database is never read whole to find it is not new.
      if (countOf(db, table) > seeded.length) return false;
      const seededText = new Set(seeded.map(canonical));
      if (!rowsOf(db, table).every((row) => seededText.has(canonical(row)))) return false;
    }
    return true;
  } finally {
    seed.close();
  }
}

/** sqlite_sequence exists only once some AUTOINCREMENT table has had a row. */
function missingSequenceTable(db: SqliteDatabase, table: string): boolean {
  return table === SEQUENCE_TABLE && db.prepare(`SELECT 1 FROM sqlite_schema WHERE name = '${SEQUENCE_TABLE}'`).get() === undefined;
}

function rowsOf(db: SqliteDatabase, table: string): Record<string, unknown>[] {
  return missingSequenceTable(db, table) ? [] : (db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]);
}

function countOf(db: SqliteDatabase, table: string): number {
  return missingSequenceTable(db, table) ? 0 : (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
}

/** A row (or a key) as JSON text, blobs as base64: to compare rows, and to name one in a message. */
function canonical(row: Record<string, unknown>): string {
  return JSON.stringify(row, (_key, value: unknown) => (Buffer.isBuffer(value) ? { $base64: value.toString('base64') } : value));
}

function insertAll(db: SqliteDatabase, rows: Iterable<ExportRow>, shapes: Map<string, TableShape>): number {
  // Parents come first in an export; deferring still lets a cycle of references load.
  db.pragma('defer_foreign_keys = ON');
  // The only rows a new database holds are its migrations' seeds (store_meta's): replaced.
  const seeded = new Set([...shapes.keys()].filter((table) => countOf(db, table) > 0));
  const inserts = new Map<string, (row: Record<string, unknown>) => void>();
  const insertFor = (table: string) => {
    const { columns } = shapes.get(table)!;
    const verb = seeded.has(table) ? 'INSERT OR REPLACE' : 'INSERT';
    const statement = db.prepare(`${verb} INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
    return (row: Record<string, unknown>) => statement.run(...columns.map((column) => row[column]));
  };
  const setSequence = db.prepare(`UPDATE ${SEQUENCE_TABLE} SET seq = ? WHERE name = ?`);
  const sequences: ExportRow[] = [];
  let inserted = 0;
  for (const entry of rows) {
    inserted++;
    if (entry.table === SEQUENCE_TABLE) {
      sequences.push(entry);
      continue;
    }
    let insert = inserts.get(entry.table);
    if (insert === undefined) inserts.set(entry.table, (insert = insertFor(entry.table)));
    try {
      insert(entry.row);
    } catch (error) {
      throw invalidArgument(`line ${entry.line}: the row of ${entry.table} cannot be inserted: ${(error as Error).message}`);
    }
  }
  // After the inserts, which move the counters up to the highest rows, back to what they were:
  // revisions compacted away must not be handed out again.
  for (const { row } of sequences) {
    if (setSequence.run(row.seq, row.name).changes === 0) db.prepare(`INSERT INTO ${SEQUENCE_TABLE} (name, seq) VALUES (?, ?)`).run(row.name, row.seq);
  }
  const orphan = (db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[])[0];
  if (orphan !== undefined) throw invalidArgument(`the export is inconsistent: a row of ${orphan.table} refers to a row of ${orphan.parent} it does not hold`);
  return inserted;
}

/** How the database differs from the export, or undefined when it holds exactly its rows. */
function firstDifference(db: SqliteDatabase, exported: Map<string, number>, rows: Iterable<ExportRow>, shapes: Map<string, TableShape>): string | undefined {
  for (const table of shapes.keys()) {
    const held = countOf(db, table);
    if (held !== (exported.get(table) ?? 0)) return `table ${table} holds ${held} rows, the export ${exported.get(table) ?? 0}`;
  }
  const lookups = new Map<string, (row: Record<string, unknown>) => Record<string, unknown> | undefined>();
  for (const { table, row } of rows) {
    const { columns, key } = shapes.get(table)!;
    let lookup = lookups.get(table);
    if (lookup === undefined) {
      const statement = db.prepare(`SELECT * FROM "${table}" WHERE ${key.map((c) => `"${c}" IS ?`).join(' AND ')} LIMIT 1`);
      lookups.set(table, (lookup = (wanted) => statement.get(...key.map((column) => wanted[column])) as Record<string, unknown> | undefined));
    }
    const keyText = canonical(Object.fromEntries(key.map((column) => [column, row[column]])));
    const found = lookup(row);
    if (found === undefined) return `table ${table} row ${keyText} is missing`;
    const differing = columns.find((column) => !sameValue(found[column], row[column]));
    if (differing !== undefined) return `table ${table} row ${keyText} differs in column ${differing}`;
  }
  return undefined;
}

function sameValue(held: unknown, exported: unknown): boolean {
  if (Buffer.isBuffer(held) || Buffer.isBuffer(exported)) return Buffer.isBuffer(held) && Buffer.isBuffer(exported) && held.equals(exported);
  return held === exported;
}
