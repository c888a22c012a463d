import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { invalidArgument } from '@jobkeep/errors';
import { EXPORT_FORMAT, EXPORT_VERSION, type ExportHeader } from './database-export.js';
import { refusalBySql } from './sqlite-refusals.js';

/** One row line of an export: its table, its columns as exported, and its line number. */
export interface ExportRow {
  table: string;
  /** Column values as exported: null, numbers, strings, and blobs as `{"$base64": ...}`. */
  row: Record<string, unknown>;
  line: number;
}

const STAGING_PREFIX = '.jobkeep-import-';
const KINDS: readonly string[] = ['coordination', 'requester', 'compute'];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Rows per transaction of the staging file: its transactions are cheap (no journal, no fsync), and a few big ones cheaper still. */
const ROWS_PER_COMMIT = 10_000;

/**
 * An export, read line by line into a staging file of its own: its header, and its rows, each
 * checked for shape, waiting in export order. An export may be much larger than memory, and an
 * import goes over its rows more than once (to check them against the database, to compare, to
 * insert), so they wait on disk rather than in an array. The file is the caller's to discard.
 */
export class StagedExport {
  private constructor(
    readonly header: ExportHeader,
    private readonly db: Database.Database,
    private readonly dir: string,
  ) {}

  /**
   * Reads `lines` (as exportDatabase writes them) into a new staging file in a new directory
   * under `parentDir` (the system's temporary directory by default): a header of this format
   * first, then one row per line; empty lines are skipped. INVALID_ARGUMENT names the first
   * line that is wrong; the staging file is then already gone.
   */
  static async read(lines: AsyncIterable<string> | Iterable<string>, parentDir = os.tmpdir()): Promise<StagedExport> {
    const dir = fs.mkdtempSync(path.join(parentDir, STAGING_PREFIX));
    // Nothing in it outlives a crash that matters: no journal, no fsync.
    const db = new Database(path.join(dir, 'rows.db'));
    try {
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.exec('CREATE TABLE rows (line INTEGER PRIMARY KEY, tbl TEXT NOT NULL, row TEXT NOT NULL)');
      const insert = db.prepare('INSERT INTO rows (line, tbl, row) VALUES (?, ?, ?)');
      let header: ExportHeader | undefined;
      let rows = 0;
      let number = 0;
      db.exec('BEGIN');
      for await (const text of lines) {
        number++;
        const line = text.trim();
        if (line === '') continue;
        const value = parseLine(line, number);
        if (header === undefined) {
          header = checkHeader(value, number);
          continue;
        }
        const { table, row } = checkRow(value, number);
        insert.run(number, table, JSON.stringify(row));
        if (++rows % ROWS_PER_COMMIT === 0) db.exec('COMMIT; BEGIN');
      }
      db.exec('COMMIT');
      if (header === undefined) throw invalidArgument(`line 1: the export is empty; it must start with a ${EXPORT_FORMAT} header`);
      return new StagedExport(header, db, dir);
    } catch (error) {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
      throw refusalBySql(`the import's staging file in ${dir}`, error) ?? error;
    }
  }

  /** Rows per table. */
  counts(): Map<string, number> {
    const counts = this.db.prepare('SELECT tbl, count(*) AS n FROM rows GROUP BY tbl').all() as { tbl: string; n: number }[];
    return new Map(counts.map(({ tbl, n }) => [tbl, n]));
  }

  /** The rows in export order, read from the file as they are asked for. */
  *rows(): Generator<ExportRow> {
    for (const { line, tbl, row } of this.db.prepare('SELECT line, tbl, row FROM rows ORDER BY line').iterate() as Iterable<{ line: number; tbl: string; row: string }>) {
      yield { table: tbl, row: JSON.parse(row) as Record<string, unknown>, line };
    }
  }

  /** Closes and removes the staging file. */
  discard(): void {
    if (this.db.open) this.db.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Removes the staging files that imports killed mid-way left in `dir`. Only for a directory the
 * caller holds alone (a data directory, whose one writer is opening it): an import running
 * elsewhere would lose its file.
 */
export function removeLeftoverStaging(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(STAGING_PREFIX)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function parseLine(line: string, number: number): unknown {
  try {
    return JSON.parse(line);
  } catch (error) {
    throw invalidArgument(`line ${number}: not JSON (${(error as Error).message})`);
  }
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

function checkRow(value: unknown, line: number): { table: string; row: Record<string, unknown> } {
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
  return { table, row };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
