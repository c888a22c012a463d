import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GroupCommitSettings } from './group-commit.js';
import { NodeDatabase } from './node-database.js';
import { openSqlite } from './sqlite-connection.js';
import { rejection } from './test-support/temp-storage.js';
import { walCommits } from './test-support/wal-commits.js';

/**
 * Group commit on a real file with a schema of its own: rows with unique names, a trigger that
 * refuses one name as the schema's drain triggers refuse moving jobs, and a foreign key for a
 * failure that only COMMIT can find. Commits are counted in the write-ahead log.
 */
describe('NodeDatabase writes', () => {
  let dir = '';
  let file = '';
  const opened: NodeDatabase[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-node-db-'));
    file = path.join(dir, 'items.db');
  });
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function open(options: { groupCommit?: GroupCommitSettings; onCommit?: () => void; onBatchCommitted?: () => void } = {}): NodeDatabase {
    const sqlite = openSqlite(file, true);
    sqlite.pragma('wal_autocheckpoint = 0'); // the log keeps every commit, for walCommits
    sqlite.exec(`
      CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS parents (id INTEGER PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents (id));
      CREATE TRIGGER IF NOT EXISTS items_frozen BEFORE INSERT ON items WHEN NEW.name = 'frozen'
      BEGIN SELECT RAISE(ABORT, 'jobkeep: item frozen is being moved; try again'); END;
    `);
    const db = new NodeDatabase(sqlite, file, options);
    opened.push(db);
    return db;
  }

  const insert = (db: NodeDatabase, name: string) => () => Number(db.statement('INSERT INTO items (name) VALUES (?)').run(name).lastInsertRowid);
  const names = (db: NodeDatabase) => (db.read(() => db.statement('SELECT name FROM items ORDER BY id').all()) as { name: string }[]).map((row) => row.name);

  it('settles every write of a batch, and commits the next batches, even when the commit observer throws', async () => {
    const db = open({
      groupCommit: { maxWrites: 4, maxWaitMs: 0 },
      onBatchCommitted: () => {
        throw new Error('a broken metrics observer');
      },
    });
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => db.write(insert(db, `o${i}`))));
    expect(ids).toHaveLength(10);
    expect(names(db)).toEqual(Array.from({ length: 10 }, (_, i) => `o${i}`));
  });

  it('commits writes that arrive together in one transaction, in the order they came, each acknowledged once committed', async () => {
    const db = open();
    const reader = new Database(file, { readonly: true });
    try {
      const before = walCommits(file);
      // 16: the most a turn commits whole (a longer queue is split in halves, below).
      const visibleWhenAcknowledged = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          db.write(insert(db, `n${i}`)).then((id) => reader.prepare('SELECT name FROM items WHERE id = ?').get(id) !== undefined),
        ),
      );
      expect(walCommits(file) - before).toBe(1);
      expect(visibleWhenAcknowledged).toEqual(Array(16).fill(true));
      expect(names(db)).toEqual(Array.from({ length: 16 }, (_, i) => `n${i}`));

      // One at a time, each write has a transaction of its own: nothing else was waiting.
      for (let i = 0; i < 5; i++) await db.write(insert(db, `alone${i}`));
      expect(walCommits(file) - before).toBe(6);
    } finally {
      reader.close();
    }
  });

  it('halves a queue longer than 16 each turn, answering each batch before the next commits', async () => {
    const db = open();
    const before = walCommits(file);
    const commitsWhenAnswered: number[] = [];
    const writes = Array.from({ length: 40 }, (_, i) => db.write(insert(db, `h${i}`)).then(() => commitsWhenAnswered.push(walCommits(file) - before)));
    await Promise.all(writes);
    // 40 waiting: 20 commit; 20 still waiting: 10; the last 10 whole.
    expect(walCommits(file) - before).toBe(3);
    expect(commitsWhenAnswered).toEqual([...Array(20).fill(1), ...Array(10).fill(2), ...Array(10).fill(3)]);
    expect(names(db)).toEqual(Array.from({ length: 40 }, (_, i) => `h${i}`));
  });

  it('commits at most maxWrites writes a turn and the rest in the turns after, each batch answered before the next commits', async () => {
    const db = open({ groupCommit: { maxWrites: 8, maxWaitMs: 0 } });
    const before = walCommits(file);
    const commitsWhenAnswered: number[] = [];
    const writes = Array.from({ length: 50 }, (_, i) => db.write(insert(db, `n${i}`)).then(() => commitsWhenAnswered.push(walCommits(file) - before)));
    // Nothing commits within the callers' own turn, however many writes it holds.
    expect(walCommits(file) - before).toBe(0);
    await new Promise(setImmediate);
    expect(walCommits(file) - before).toBe(1);
    await Promise.all(writes);
    expect(walCommits(file) - before).toBe(7); // 50 writes, 8 a transaction
    // The callers of each batch heard before the next batch committed.
    expect(commitsWhenAnswered).toEqual(Array.from({ length: 50 }, (_, i) => Math.floor(i / 8) + 1));
    expect(names(db)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
  });

  it('commits a full batch at the end of its turn even when maxWaitMs would let it wait longer', async () => {
    const db = open({ groupCommit: { maxWrites: 4, maxWaitMs: 1_000 } });
    const before = walCommits(file);
    const writes = Array.from({ length: 4 }, (_, i) => db.write(insert(db, `f${i}`)));
    await new Promise(setImmediate);
    expect(walCommits(file) - before).toBe(1);
    await Promise.all(writes);
  });

  it('counts a write by the records it makes: batches hold at most maxWrites records, and a bigger write commits alone', async () => {
    const db = open({ groupCommit: { maxWrites: 8, maxWaitMs: 0 } });
    const before = walCommits(file);
    const writes = [
      db.write(insert(db, 'three-a'), 3),
      db.write(insert(db, 'three-b'), 3),
      db.write(insert(db, 'one'), 1),
      // 10 records: past the bound, in a transaction of its own.
      db.write(insert(db, 'ten'), 10),
      db.write(insert(db, 'two'), 2),
    ];
    await Promise.all(writes);
    // 3 + 3 + 1 together; then 10 alone; then 2.
    expect(walCommits(file) - before).toBe(3);
    expect(names(db)).toEqual(['three-a', 'three-b', 'one', 'ten', 'two']);
  });

  it('lets a batch wait up to maxWaitMs for the writes that follow', async () => {
    const db = open({ groupCommit: { maxWrites: 256, maxWaitMs: 40 } });
    const before = walCommits(file);
    const first = db.write(insert(db, 'first'));
    await sleep(5);
    expect(walCommits(file) - before).toBe(0);
    await Promise.all([first, db.write(insert(db, 'second'))]);
    expect(walCommits(file) - before).toBe(1);
  });

  it('undoes a write that fails, and only it: the others of its batch commit', async () => {
    const db = open();
    const before = walCommits(file);
    const outcomes = await Promise.allSettled([
      db.write(insert(db, 'a')),
      // Its first row goes with it when its second fails.
      db.write(() => {
        insert(db, 'b')();
        return insert(db, 'a')();
      }),
      db.write(insert(db, 'c')),
      db.write(insert(db, 'frozen')),
      db.write(() => {
        throw new Error('refused by the store');
      }),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected']);
    expect(outcomes[1]).toMatchObject({ reason: { code: 'SQLITE_CONSTRAINT_UNIQUE' } });
    // The schema's refusals reach the caller as UNAVAILABLE, from within a batch as alone.
    expect(outcomes[3]).toMatchObject({ reason: { code: 'UNAVAILABLE', message: 'item frozen is being moved; try again' } });
    expect(outcomes[4]).toMatchObject({ reason: { message: 'refused by the store' } });
    expect(names(db)).toEqual(['a', 'c']);
    expect(walCommits(file) - before).toBe(1);
  });

  it('runs every write once, with no savepoint of its own, when no write fails after changing rows', async () => {
    const statements: string[] = [];
    const db = new NodeDatabase(openSqlite(file, true, { onStatement: (sql) => statements.push(sql) }), file);
    opened.push(db);
    db.db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)');
    const runs = { first: 0, second: 0, third: 0 };
    const outcomes = await Promise.allSettled([
      db.write(() => (runs.first++, insert(db, 'a')())),
      db.write(() => {
        runs.second++;
        throw new Error('refused before writing');
      }),
      // A failing statement is undone by SQLite itself: the write changed nothing.
      db.write(() => (runs.third++, insert(db, 'a')())),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(outcomes[2]).toMatchObject({ reason: { code: 'SQLITE_CONSTRAINT_UNIQUE' } });
    expect(runs).toEqual({ first: 1, second: 1, third: 1 });
    expect(names(db)).toEqual(['a']);
    const savepoints = () => statements.filter((sql) => /^(SAVEPOINT|ROLLBACK)/i.test(sql));
    expect(savepoints()).toEqual([]);
    // As against a batch that needs one (below).
    await Promise.allSettled([db.write(insert(db, 'b')), db.write(() => [insert(db, 'c')(), insert(db, 'a')()])]);
    expect(savepoints().length).toBeGreaterThan(0);
  });

  it('runs the batch again, each write in a savepoint, when one fails after changing rows; alone, it fails with its own error', async () => {
    const db = open();
    const before = walCommits(file);
    const runs = { first: 0, second: 0, third: 0 };
    const outcomes = await Promise.allSettled([
      db.write(() => (runs.first++, insert(db, 'a')())),
      db.write(() => {
        runs.second++;
        insert(db, 'b')();
        return insert(db, 'a')();
      }),
      db.write(() => (runs.third++, insert(db, 'c')())),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // The first run stopped at the failure and was rolled back; the second ran every write.
    expect(runs).toEqual({ first: 2, second: 2, third: 1 });
    expect(names(db)).toEqual(['a', 'c']);
    expect(walCommits(file) - before).toBe(1);

    let aloneRuns = 0;
    const alone = db.write(() => {
      aloneRuns++;
      insert(db, 'd')();
      return insert(db, 'c')();
    });
    await expect(alone).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(aloneRuns).toBe(1);
    expect(names(db)).toEqual(['a', 'c']);
    expect(walCommits(file) - before).toBe(1);
    await db.write(insert(db, 'after'));
    expect(names(db)).toEqual(['a', 'c', 'after']);
  });

  it('acknowledges nothing before its commit: when COMMIT fails, every write of the batch fails and none is kept', async () => {
    const db = open();
    const before = walCommits(file);
    const outcomes = await Promise.allSettled([
      db.write(insert(db, 'a')),
      // A deferred foreign key is checked by COMMIT alone: the statement itself succeeds.
      db.write(() => {
        db.db.pragma('defer_foreign_keys = ON');
        db.statement('INSERT INTO children (parent_id) VALUES (42)').run();
      }),
      db.write(insert(db, 'c')),
    ]);
    expect(outcomes).toEqual(Array(3).fill(expect.objectContaining({ status: 'rejected', reason: expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }) })));
    expect(names(db)).toEqual([]);
    expect(walCommits(file) - before).toBe(0);
    // The failed transaction was rolled back: the next batch starts clean.
    await db.write(insert(db, 'after'));
    expect(names(db)).toEqual(['after']);
  });

  it('fails the whole batch when a write makes SQLite roll back the transaction, and runs no later write outside one', async () => {
    const db = open();
    const outcomes = await Promise.allSettled([
      db.write(insert(db, 'a')),
      db.write(() => db.statement(`INSERT OR ROLLBACK INTO items (name) VALUES ('a')`).run()),
      db.write(insert(db, 'c')),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(outcomes[2]).toMatchObject({ reason: { code: 'SQLITE_CONSTRAINT_UNIQUE' } });
    expect(names(db)).toEqual([]);
  });

  it('refuses a write the full file cannot hold with RESOURCE_EXHAUSTED naming it, keeps the rest of its batch, and writes again once there is room', async () => {
    const db = open();
    await db.write(insert(db, 'before'));
    // SQLite's size limit fails a statement with the SQLITE_FULL of a full disk.
    db.db.pragma(`max_page_count = ${db.db.pragma('page_count', { simple: true }) as number}`);
    const large = 'x'.repeat(64 * 1024);
    const outcomes = await Promise.allSettled([db.write(insert(db, 'a')), db.write(insert(db, large)), db.write(insert(db, 'c'))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(outcomes[1]).toMatchObject({
      reason: { code: 'RESOURCE_EXHAUSTED', message: `${file} cannot grow: its disk is full, and nothing of this write was kept; free space there, then try again` },
    });
    expect(names(db)).toEqual(['before', 'a', 'c']);

    db.db.pragma('max_page_count = 1073741823');
    await db.write(insert(db, large));
    expect(names(db)).toHaveLength(4);
  });

  it('commits the pending writes before writeNow runs, so that writeNow sees them', async () => {
    const db = open();
    const before = walCommits(file);
    const pending = db.write(insert(db, 'queued'));
    const seen = db.writeNow(() => {
      insert(db, 'now')();
      return names(db);
    });
    expect(seen).toEqual(['queued', 'now']);
    expect(walCommits(file) - before).toBe(2);
    await expect(pending).resolves.toBe(1);
  });

  it('commits the pending writes when closed, and refuses a write on a closed handle as UNAVAILABLE', async () => {
    const db = open();
    const pending = [db.write(insert(db, 'a')), db.write(insert(db, 'b'))];
    db.close();
    await expect(Promise.all(pending)).resolves.toEqual([1, 2]);
    expect(await rejection(db.write(insert(db, 'late')), 'UNAVAILABLE')).toContain('was closed');

    const reopened = new Database(file, { readonly: true });
    expect(reopened.prepare('SELECT name FROM items ORDER BY id').pluck().all()).toEqual(['a', 'b']);
    reopened.close();
  });

  it('tells onCommit once per committed batch that changed rows', async () => {
    let commits = 0;
    const db = open({ onCommit: () => commits++ });
    await Promise.all(Array.from({ length: 10 }, (_, i) => db.write(insert(db, `n${i}`))));
    expect(commits).toBe(1);
    // Nothing changed: a write that only read, and one whose change was undone.
    await Promise.allSettled([db.write(() => names(db)), db.write(insert(db, 'n0'))]);
    expect(commits).toBe(1);
    db.writeNow(insert(db, 'now'));
    expect(commits).toBe(2);
  });
});
