import fs from 'node:fs';
import Database from 'better-sqlite3';

/** The type byte of an interior page of a table's b-tree. */
const INTERIOR_TABLE_PAGE = 0x05;

/**
 * Damages a closed database file as a bad disk might: the first child pointer of `table`'s
 * root page is made to name the page the second one names, so that one page of rows is
 * reachable twice and another not at all. integrity_check reports it; a query that walks the
 * table fails with SQLITE_CORRUPT; VACUUM INTO and the backup API copy it without complaint.
 * The table must span several pages (a few hundred jobs do), so that its root is an interior page.
 */
export function damageRootPage(file: string, table: string): void {
  const db = new Database(file, { fileMustExist: true });
  let root: number;
  let pageSize: number;
  try {
    // Every change into the file itself, so that no write-ahead log holds a newer copy of the page.
    db.pragma('wal_checkpoint(TRUNCATE)');
    root = db.prepare('SELECT rootpage FROM sqlite_schema WHERE name = ?').pluck().get(table) as number;
    pageSize = db.pragma('page_size', { simple: true }) as number;
  } finally {
    db.close();
  }
  const page = Buffer.alloc(pageSize);
  const handle = fs.openSync(file, 'r+');
  try {
    fs.readSync(handle, page, 0, pageSize, (root - 1) * pageSize);
    if (page[0] !== INTERIOR_TABLE_PAGE) throw new Error(`the root page of ${table} is not an interior page: give the table more rows`);
    const cell = (index: number) => page.readUInt16BE(12 + 2 * index);
    page.copy(page, cell(0), cell(1), cell(1) + 4);
    fs.writeSync(handle, page, 0, pageSize, (root - 1) * pageSize);
  } finally {
    fs.closeSync(handle);
  }
}
