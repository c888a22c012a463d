import Database from 'better-sqlite3';
import { failedPrecondition, invalidArgument } from '@jobkeep/errors';
import { computeMigrations } from './compute-schema.js';
import { EXPORT_FORMAT, EXPORT_VERSION, SEQUENCE_TABLE, TRIGGER_KEPT_TABLES, exportOrder, type ExportHeader } from './database-export.js';
import type { NodeDatabaseKind } from './database-locations.js';
import type { Migrations } from './migrations.js';
import { requesterMigrations } from './requester-schema.js';
import type { SqliteDatabase } from './sqlite-connection.js';

export interface ImportOutcome {
  rowsImported: number;
  /** The database already held exactly this export, and nothing was written. */
  unchanged: boolean;
}

export interface ExportRow {
  table: string;
  /** Column values as exported: null, numbers, strings, and blobs as `{"$base64": ...}`. */
  row: Record<string, unknown>;
  /** Its line in the export, for error messages. */
  line?: number;
}

export interface ParsedExport {
  header: ExportHeader;
  rows: ExportRow[];
}

const KINDS: readonly string[] = ['coordination', 'requester', 'compute'];
const MIGRATIONS: Record<NodeDatabaseKind, Migrations> = { requester: requesterMigrations, compute: computeMigrations };
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Reads the lines of an export (as exportDatabase writes them) and checks their shape: a header
 * of this format first, then one row per line. Empty lines are skipped. The rows are checked
 * against a database by importRows.
 */
export async function parseExport(lines: AsyncIterable<string> | Iterable<string>): Promise<ParsedExport> {
  let header: ExportHeader | undefined;
  const rows: ExportRow[] = [];
  let number = 0;
  for await (const text of lines) {
    number++;
    const line = text.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw invalidArgument(`line ${number}: not JSON (${(error as Error).message})`);
    }
    if (header === undefined) header = checkHeader(value, number);
    else rows.push(checkRow(value, number));
  }
  if (header === undefined) throw invalidArgument(`line 1: the export is empty; it must start with a ${EXPORT_FORMAT} header`);
  return { header, rows };
}

function checkHeader(value: unknown, line: number): ExportHeader {
  const header = value as Partial<Record<keyof ExportHeader, unknown>>;
  if (!isObject(value) || header.format !== EXPORT_FORMAT) {
    throw invalidArgument(`line ${line}: not a ${EXPORT_FORMAT} header; an export starts with {"format":"${EXPORT_FORMAT}",...}`);
  }
  if (header.version !== EXPORT_VERSION) {
    throw invalidArgument(`line ${line}: export format version ${JSON.stringify(header.version)} is not one this jobkeep reads (${EXPORT_VERSION})`);
  }
  if (typeof header.kind !== 'string' || !KINDS.includes(header.kind)) {
    throw invalidArgument(`line ${line}: the header's kind must be one of ${KINDS.join(', ')}, not ${JSON.stringify(header.kind)}`);
  }
  if (!Number.isSafeInteger(header.schema) || (header.schema as number) < 0) {
    throw invalidArgument(`line ${line}: the header's schema must be a schema version, not ${JSON.stringify(header.schema)}`);
  }
  return { format: EXPORT_FORMAT, version: EXPORT_VERSION, kind: header.kind as ExportHeader['kind'], schema: header.schema as number };
}

function checkRow(value: unknown, line: number): ExportRow {
  const keys = isObject(value) ? Object.keys(value).sort().join(',') : '';
  const { table, row } = value as { table: unknown; row: unknown };
  if (keys !== 'row,table' || typeof table !== 'string' || table === '' || !isObject(row)) {
    throw invalidArgument(`line ${line}: a row line must be {"table": NAME, "row": {COLUMN: VALUE, ...}}`);
  }
  for (const [column, cell] of Object.entries(row)) {
    const blob = isObject(cell) && Object.keys(cell).join() === '$base64' && typeof cell.$base64 === 'string' && BASE64.test(cell.$base64);
    if (!(cell === null || typeof cell === 'string' || (typeof cell === 'number' && Number.isFinite(cell)) || blob)) {
      throw invalidArgument(`line ${line}: column ${JSON.stringify(column)} of ${table} holds ${JSON.stringify(cell)}; a value is null, a number, a string or {"$base64": "..."}`);
    }
  }
  return { table, row, line };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What importRows checks a row against: the columns of its table, and its key for comparisons. */
interface TableShape {
  columns: string[];
  /** Primary key columns; every column for a table without one (a row is then its own key). */
  key: string[];
}

/**
 * Loads `parsed` into `db`, an open node database of `kind` at the export's schema version,
 * inside the caller's write transaction (so that a failure leaves nothing behind). Into a
 * database as new (only what its migrations wrote) every row is inserted; the triggers rebuild
 * the counters as they go. A database that already holds exactly the export is left as it is
 * (an import run twice changes nothing); any other is refused. SQL is built from the names the
 * database reports, never from the export's text.
 */
export function importRows(db: SqliteDatabase, kind: NodeDatabaseKind, parsed: ParsedExport): ImportOutcome {
  const { header, rows } = parsed;
  if (header.kind === 'coordination') throw invalidArgument('only node databases can be imported; this is an export of coordination.db');
  if (header.kind !== kind) throw invalidArgument(`an export of a ${header.kind} database cannot be imported into a ${kind} database`);
  const schema = db.pragma('user_version', { simple: true }) as number;
  if (header.schema !== schema) {
    throw failedPrecondition(`the export has schema version ${header.schema}, the database schema version ${schema}; they must be the same`);
  }
  const shapes = tableShapes(db);
  const decoded = rows.map((entry, index) => ({ ...entry, line: entry.line ?? index + 2, row: decodeRow(entry, index, shapes, kind) }));
  const difference = firstDifference(db, decoded, shapes);
  if (difference === undefined) return { rowsImported: 0, unchanged: true };
  if (isNew(db, shapes, schema, kind)) return { rowsImported: insertAll(db, decoded, shapes), unchanged: false };
  throw failedPrecondition(`database is not empty and differs from the export: ${difference}`);
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
function decodeRow(entry: ExportRow, index: number, shapes: Map<string, TableShape>, kind: NodeDatabaseKind): Record<string, unknown> {
  const where = `line ${entry.line ?? index + 2}`;
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

function insertAll(db: SqliteDatabase, rows: Required<ExportRow>[], shapes: Map<string, TableShape>): number {
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
  const sequences: Required<ExportRow>[] = [];
  for (const entry of rows) {
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
  return rows.length;
}

/** How the database differs from the export, or undefined when it holds exactly its rows. */
function firstDifference(db: SqliteDatabase, rows: Required<ExportRow>[], shapes: Map<string, TableShape>): string | undefined {
  const exported = new Map<string, number>();
  for (const { table } of rows) exported.set(table, (exported.get(table) ?? 0) + 1);
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
