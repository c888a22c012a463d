import fs from 'node:fs';
import Database from 'better-sqlite3';
import { invalidArgument, notFound } from '@jobkeep/errors';
import type { SqliteDatabase } from './sqlite-connection.js';

/** A user table of a database file, as `tables` (bbolt's `buckets`) shows it. */
export interface TableInfo {
  name: string;
  rows: number;
  /** The primary-key columns in key order; `['rowid']` for a table that declares none. */
  keyColumns: string[];
}

export interface KeyListing {
  keys: string[];
  /** More keys matched than `limit`. */
  truncated: boolean;
}

const DEFAULT_KEY_LIMIT = 1000;
export const MAX_KEY_LIMIT = 10_000;
/** How a composite key's columns are shown as one key. */
const KEY_SEPARATOR = '/';

/**
 * Runs `read` on `file` opened read-only, inside one read transaction, so that everything it
 * reads comes from one snapshot even while a server writes the file through WAL. The
 * connection cannot write, so the admin tool never changes a file it only inspects.
 */
export function readSnapshot<T>(file: string, read: (db: SqliteDatabase) => T): T {
  const db = openReadOnly(file);
  try {
    return inReadTransaction(db, () => read(db));
  } catch (error) {
    throw notADatabase(file, error);
  } finally {
    db.close();
  }
}

/**
 * Runs `read` inside one read transaction on a read-only connection: one snapshot. Not
 * better-sqlite3's `db.transaction()`, whose COMMIT repeats the error of any statement that hit
 * a damaged page (SQLITE_CORRUPT), even one that `read` caught and reported: a check of a
 * damaged file would then throw instead of returning its findings. A read transaction has
 * nothing to commit, so it is ended with ROLLBACK, and an error in ending it is not one of the
 * read's (closing the connection releases the snapshot in any case).
 */
export function inReadTransaction<T>(db: SqliteDatabase, read: () => T): T {
  db.exec('BEGIN');
  try {
    return read();
  } finally {
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } catch {
      // See above: the read's own outcome, returned or thrown, is what counts.
    }
  }
}

/** Opens `file` read-only; a missing file is NOT_FOUND, naming it. */
export function openReadOnly(file: string): SqliteDatabase {
  requireDatabaseFile(file);
  return new Database(file, { readonly: true, fileMustExist: true });
}

/** better-sqlite3 says only "unable to open database file"; the operator needs the path. */
export function requireDatabaseFile(file: string): void {
  if (!fs.existsSync(file)) throw notFound(`database file ${file} does not exist`);
}

/** SQLite finds out that a file is not a database only on its first read. */
export function notADatabase(file: string, error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_NOTADB' ? invalidArgument(`${file} is not a SQLite database`) : error;
}

/**
 * The user tables of a file, from sqlite_schema alone: enough to tell what kind of database a
 * file holds without reading any table, so that it works on a file whose tables are damaged.
 */
export function listTableNames(file: string): string[] {
  return readSnapshot(file, tableNames);
}

export function listTables(file: string): TableInfo[] {
  return readSnapshot(file, (db) =>
    tableNames(db).map((name) => {
      const { count } = db.prepare(`SELECT count(*) AS count FROM ${quoted(name)}`).get() as { count: number };
      return { name, rows: count, keyColumns: keyColumns(db, name).map((column) => column.name) };
    }),
  );
}

export function listKeys(file: string, table: string, options: { prefix?: string; limit?: number } = {}): KeyListing {
  const limit = options.limit ?? DEFAULT_KEY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_KEY_LIMIT) {
    throw invalidArgument(`limit must be an integer from 1 to ${MAX_KEY_LIMIT}, not ${limit}`);
  }
  return readSnapshot(file, (db) => {
    const columns = keyColumns(db, checkedTable(db, file, table));
    const selected = columns.map((column) => quoted(column.name)).join(', ');
    const filter = prefixFilter(columns[0], options.prefix ?? '');
    const rows = db
      .prepare(`SELECT ${selected} FROM ${quoted(table)} ${filter.where} ORDER BY ${selected} LIMIT ?`)
      .raw()
      .all(...filter.parameters, limit + 1) as unknown[][];
    return { keys: rows.slice(0, limit).map((row) => row.map(keyText).join(KEY_SEPARATOR)), truncated: rows.length > limit };
  });
}

export function getRows(file: string, table: string, key: string): Record<string, unknown>[] {
  return readSnapshot(file, (db) => {
    const columns = keyColumns(db, checkedTable(db, file, table));
    const first = columns[0];
    // A table without a declared key is keyed by its rowid, which `SELECT *` leaves out.
    const selected = first.name === 'rowid' ? 'rowid, *' : '*';
    const order = columns.map((column) => quoted(column.name)).join(', ');
    const rows = db
      .prepare(`SELECT ${selected} FROM ${quoted(table)} WHERE ${quoted(first.name)} = ? ORDER BY ${order}`)
      .all(keyValue(first, key)) as Record<string, unknown>[];
    return rows.map((row) => Object.fromEntries(Object.entries(row).map(([name, value]) => [name, jsonValue(value)])));
  });
}

interface KeyColumn {
  name: string;
  integer: boolean;
}

/** User tables: SQLite's own (`sqlite_sequence`, `sqlite_stat1`) are its business. */
function tableNames(db: SqliteDatabase): string[] {
  return (
    db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`).pluck().all() as string[]
  );
}

/** `table` as given, once it is known to be one: only then is it quoted into SQL. */
function checkedTable(db: SqliteDatabase, file: string, table: string): string {
  const names = tableNames(db);
  if (!names.includes(table)) {
    throw notFound(`table ${JSON.stringify(table)} does not exist in ${file}; tables: ${names.join(', ')}`);
  }
  return table;
}

function keyColumns(db: SqliteDatabase, table: string): [KeyColumn, ...KeyColumn[]] {
  const info = db.prepare('SELECT name, type, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk').all(table) as { name: string; type: string }[];
  // SQLite's affinity rule: a declared type containing INT is an integer column.
  const [first, ...rest] = info.map((column) => ({ name: column.name, integer: /INT/i.test(column.type) }));
  return first === undefined ? [{ name: 'rowid', integer: true }] : [first, ...rest];
}

function quoted(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/**
 * Keys whose first column, as text, starts with `prefix`. On a text column that is a range
 * the primary key's index answers; the `substr` check keeps it exact under any collation. An
 * integer column's text is not in index order, so there SQLite filters as it walks the keys.
 */
function prefixFilter(column: KeyColumn, prefix: string): { where: string; parameters: unknown[] } {
  if (prefix === '') return { where: '', parameters: [] };
  const name = quoted(column.name);
  // substr counts characters (code points), not JavaScript's UTF-16 units.
  const characters = [...prefix].length;
  if (column.integer) {
    return { where: `WHERE substr(CAST(${name} AS TEXT), 1, ?) = ?`, parameters: [characters, prefix] };
  }
  // The least text above every text that starts with `prefix`: its UTF-8 with the last byte
  // raised (never 0xFF in UTF-8), compared as text, which SQLite orders by bytes.
  const above = Buffer.from(prefix, 'utf8');
  const last = above.length - 1;
  above.writeUInt8(above.readUInt8(last) + 1, last);
  return {
    where: `WHERE ${name} >= ? AND ${name} < CAST(? AS TEXT) AND substr(${name}, 1, ?) = ?`,
    parameters: [prefix, above, characters, prefix],
  };
}

function keyValue(column: KeyColumn, key: string): string | bigint {
  if (!column.integer) return key;
  if (!/^[-+]?\d+$/.test(key)) throw invalidArgument(`key ${JSON.stringify(key)} is not an integer, as ${column.name} is`);
  const value = BigInt(key);
  if (value < INT64_MIN || value > INT64_MAX) throw invalidArgument(`key ${key} is out of the range of a SQLite integer`);
  return value;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function keyText(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value === null ? '' : String(value);
}

function jsonValue(value: unknown): unknown {
  return Buffer.isBuffer(value) ? { $base64: value.toString('base64') } : value;
}
