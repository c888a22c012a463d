import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROWS_PER_STATEMENT, RowInserter } from './row-inserter.js';
import { openSqlite } from './sqlite-connection.js';
import { SqliteHandle } from './sqlite-handle.js';

describe('RowInserter', () => {
  let dir = '';
  let handle: SqliteHandle;
  let statements: string[];
  const events = new RowInserter('events', ['name', 'weight']);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-rows-'));
    statements = [];
    handle = new SqliteHandle(openSqlite(path.join(dir, 'rows.db'), true, { onStatement: (sql) => statements.push(sql) }));
    handle.db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, weight INTEGER NOT NULL) STRICT');
  });
  afterEach(() => {
    handle.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const rowsNamed = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => [`${prefix}${i}`, i]);
  const stored = () => handle.db.prepare('SELECT seq, name, weight FROM events ORDER BY seq').all() as { seq: number; name: string; weight: number }[];
  const inserts = () => statements.filter((sql) => sql.startsWith('INSERT'));

  it('writes every row in order, as many to a statement as it may, and returns each row its rowid', () => {
    handle.db.prepare("INSERT INTO events (name, weight) VALUES ('before', 0)").run();
    const count = 2 * ROWS_PER_STATEMENT + 43;
    statements = [];
    const rowids = events.insertReturningRowids(handle, rowsNamed('e', count));

    const rows = stored().slice(1);
    expect(rows.map((row) => [row.name, row.weight])).toEqual(rowsNamed('e', count));
    expect(rowids).toEqual(rows.map((row) => row.seq));
    expect(rowids[0]).toBe(2);
    // Two whole statements, then 43 as 32 + 8 + 2 + 1.
    expect(inserts().map((sql) => sql.split('), (').length)).toEqual([64, 64, 32, 8, 2, 1]);
  });

  it('returns the rowids of AUTOINCREMENT, which never reuses one, after the newest rows were deleted', () => {
    events.insert(handle, rowsNamed('old', 10));
    handle.db.prepare('DELETE FROM events').run();
    expect(events.insertReturningRowids(handle, rowsNamed('new', 3))).toEqual([11, 12, 13]);
    expect(stored().map((row) => row.seq)).toEqual([11, 12, 13]);
    expect(events.insertOne(handle, ['one', 1])).toBe(14);
  });

  it('compiles one statement per row count however many batches it writes', () => {
    const compiled: string[] = [];
    const prepare = handle.db.prepare.bind(handle.db);
    handle.db.prepare = ((sql: string) => {
      compiled.push(sql);
      return prepare(sql);
    }) as typeof handle.db.prepare;
    for (let batch = 0; batch < 20; batch++) events.insert(handle, rowsNamed(`b${batch}-`, 100));
    expect(compiled).toHaveLength(3); // 64, 32 and 4 rows
    expect(stored()).toHaveLength(2000);
  });

  it('fails as SQLite does when a row breaks a constraint, leaving undoing to the caller\'s transaction', () => {
    const write = handle.db.transaction(() => events.insert(handle, [...rowsNamed('e', 70), ['e3', 0]]));
    expect(() => write()).toThrow(/UNIQUE constraint failed: events.name/);
    expect(stored()).toEqual([]);
    events.insert(handle, []);
    expect(stored()).toEqual([]);
  });
});
