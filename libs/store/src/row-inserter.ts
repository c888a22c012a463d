import type { SqliteHandle } from './sqlite-handle.js';

/**
 * Rows per INSERT statement. A statement per row costs a bulk create most of its time: an
 * INSERT into `jobs` fires the count triggers, so SQLite keeps a statement journal of every page
 * the statement touches (one in each of the 11 b-trees a new job enters) to undo it alone, and
 * one statement for 64 rows pays for that once. tools/bench/RESULTS.md has the measurements.
 */
export const ROWS_PER_STATEMENT = 64;

/**
 * Inserts rows into one table, up to ROWS_PER_STATEMENT rows per statement. Hand-written
 * because better-sqlite3 binds one row per statement run, and no query builder is worth taking
 * on for one multi-row VALUES list.
 */
export class RowInserter {
  /** The statement for each row count a statement may have: ROWS_PER_STATEMENT, its half, and so on down to one. */
  private readonly sqlByRowCount = new Map<number, string>();

  constructor(
    readonly table: string,
    readonly columns: readonly string[],
  ) {
    const row = `(${columns.map(() => '?').join(', ')})`;
    for (let count = ROWS_PER_STATEMENT; count >= 1; count /= 2) {
      this.sqlByRowCount.set(count, `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array(count).fill(row).join(', ')}`);
    }
  }

  /** Inserts one row and returns its rowid (for a table with one): the path of single writes. */
  insertOne(db: SqliteHandle, row: readonly unknown[]): number {
    return Number(db.statement(this.sqlByRowCount.get(1)!).run(row).lastInsertRowid);
  }

  insert(db: SqliteHandle, rows: readonly (readonly unknown[])[]): void {
    this.run(db, rows, () => {});
  }

  /**
   * Inserts, and returns each row's rowid in order: for a table whose rowid is an INTEGER
   * PRIMARY KEY AUTOINCREMENT the rows do not set. SQLite gives each new row one more than the
   * largest rowid the table ever had (or fails, at the maximum), so a statement's rows have
   * consecutive rowids ending at its last one.
   */
  insertReturningRowids(db: SqliteHandle, rows: readonly (readonly unknown[])[]): number[] {
    const rowids: number[] = [];
    this.run(db, rows, (last, count) => {
      for (let i = count - 1; i >= 0; i--) rowids.push(last - i);
    });
    return rowids;
  }

  private run(db: SqliteHandle, rows: readonly (readonly unknown[])[], inserted: (lastRowid: number, count: number) => void): void {
    // Whole statements first, then the rest in statements of halving sizes (40 rows: 32 and 8),
    // so that each connection compiles a few statements per table, not one per remainder size.
    let from = 0;
    for (let count = ROWS_PER_STATEMENT; count >= 1; count /= 2) {
      for (; from + count <= rows.length; from += count) {
        const values = count === 1 ? rows[from]! : rows.slice(from, from + count).flat();
        inserted(Number(db.statement(this.sqlByRowCount.get(count)!).run(values).lastInsertRowid), count);
      }
    }
  }
}
