import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoordinationDatabase } from './coordination-database.js';
import type { GroupCommitSettings } from './group-commit.js';
import { NodeDatabase } from './node-database.js';
import { openSqlite } from './sqlite-connection.js';
import { rejection } from './test-support/temp-storage.js';
import { walCommits } from './test-support/wal-commits.js';

/**
 * Group commit of coordination.db on a real file with a schema of its own: decisions are taken
 * at once and answered once committed. Commits are counted in the write-ahead log; what is
 * durable is read through a second connection, which sees only committed rows.
 */
describe('CoordinationDatabase group commit', () => {
  let dir = '';
  let file = '';
  const opened: { close(): void }[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-coordination-db-'));
    file = path.join(dir, 'coordination.db');
  });
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function open(options: { groupCommit?: GroupCommitSettings; onBatchCommitted?: (writes: number) => void } = {}): CoordinationDatabase {
    const sqlite = openSqlite(file, true);
    sqlite.pragma('wal_autocheckpoint = 0'); // the log keeps every commit, for walCommits
    sqlite.exec(`
      CREATE TABLE IF NOT EXISTS holdings (name TEXT PRIMARY KEY, token INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS parents (id INTEGER PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents (id));
    `);
    const db = new CoordinationDatabase(sqlite, options);
    opened.push(db);
    return db;
  }

  /** The holdings another connection sees: only what has committed. */
  function durableNames(): string[] {
    const reader = new Database(file, { readonly: true });
    try {
      return reader.prepare('SELECT name FROM holdings ORDER BY name').pluck().all() as string[];
    } finally {
      reader.close();
    }
  }

  const hold = (db: CoordinationDatabase, name: string) => () => db.statement('INSERT INTO holdings (name, token) VALUES (?, 1)').run(name).changes;

  /** A change only COMMIT refuses: a deferred foreign key is checked then, not by its statement. */
  const orphan = (db: CoordinationDatabase) => () => {
    db.db.pragma('defer_foreign_keys = ON');
    db.statement('INSERT INTO children (parent_id) VALUES (42)').run();
  };

  it('decides at once, answers only after the COMMIT, and commits the decisions of one turn together', async () => {
    const batches: number[] = [];
    const db = open({ onBatchCommitted: (writes) => batches.push(writes) });
    const before = walCommits(file);
    let answered = 0;
    const writes = ['a', 'b', 'c'].map((name) => db.write(hold(db, name)).then((changes) => (answered++, changes)));
    // Decided: this connection sees the rows now. Not durable, and nobody answered, yet.
    expect(db.read(() => db.statement('SELECT count(*) FROM holdings').pluck().get())).toBe(3);
    expect(durableNames()).toEqual([]);
    await Promise.resolve();
    expect(answered).toBe(0);

    await expect(Promise.all(writes)).resolves.toEqual([1, 1, 1]);
    expect(durableNames()).toEqual(['a', 'b', 'c']);
    expect(walCommits(file) - before).toBe(1);
    expect(batches).toEqual([3]);
  });

  it('undoes a decision that fails, and only it, and answers its refusal after the COMMIT too', async () => {
    const db = open();
    const outcomes = await Promise.allSettled([db.write(hold(db, 'a')), db.write(hold(db, 'a')), db.write(hold(db, 'b'))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(outcomes[1]).toMatchObject({ reason: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
    expect(durableNames()).toEqual(['a', 'b']);
  });

  it('refuses a decision the full file cannot hold with RESOURCE_EXHAUSTED; the turn it made SQLite roll back fails as UNAVAILABLE', async () => {
    const db = open();
    await db.write(hold(db, 'before'));
    // SQLite's size limit fails a statement with the SQLITE_FULL of a full disk.
    db.db.pragma(`max_page_count = ${db.db.pragma('page_count', { simple: true }) as number}`);
    const outcomes = await Promise.allSettled([db.write(hold(db, 'a')), db.write(hold(db, 'x'.repeat(64 * 1024))), db.write(hold(db, 'b'))]);
    expect(outcomes).toMatchObject([
      // SQLite undid the whole transaction for it: the decision before it is gone too.
      { status: 'rejected', reason: { code: 'UNAVAILABLE', message: "coordination.db rolled back this turn's changes: database or disk is full; try again" } },
      { status: 'rejected', reason: { code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/^coordination\.db cannot grow: its disk is full/) } },
      { status: 'fulfilled' },
    ]);
    expect(durableNames()).toEqual(['b', 'before']);
  });

  it('fails every decision of the turn when its COMMIT fails, keeps none, and starts the next turn clean', async () => {
    const db = open();
    const before = walCommits(file);
    const outcomes = await Promise.allSettled([db.write(hold(db, 'a')), db.write(orphan(db)), db.readCommitted(() => 'seen')]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'UNAVAILABLE', message: expect.stringContaining('could not commit') } });
    }
    expect(durableNames()).toEqual([]);
    expect(walCommits(file) - before).toBe(0);
    await db.write(hold(db, 'after'));
    expect(durableNames()).toEqual(['after']);
  });

  it('commits on the spot once a turn holds maxWrites decisions', async () => {
    const db = open({ groupCommit: { maxWrites: 4, maxWaitMs: 0 } });
    const before = walCommits(file);
    const writes = Array.from({ length: 10 }, (_, i) => db.write(hold(db, `n${i}`)));
    expect(walCommits(file) - before).toBe(2);
    expect(durableNames()).toHaveLength(8);
    await Promise.all(writes);
    expect(walCommits(file) - before).toBe(3);
  });

  it('commits what is pending before writeNow, which commits at once, and when closed', async () => {
    const db = open();
    const pending = db.write(hold(db, 'a'));
    db.writeNow(hold(db, 'b'));
    expect(durableNames()).toEqual(['a', 'b']);
    await expect(pending).resolves.toBe(1);

    const last = db.write(hold(db, 'c'));
    db.close();
    await expect(last).resolves.toBe(1);
    expect(durableNames()).toEqual(['a', 'b', 'c']);
  });

  describe('with a node database that checks it', () => {
    function openNode(coordination: CoordinationDatabase): NodeDatabase {
      const sqlite = openSqlite(path.join(dir, 'node-requester.db'), true);
      sqlite.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      const node = new NodeDatabase(sqlite, 'node-requester.db', { beforeCommit: () => coordination.commitPending() });
      opened.push(node);
      return node;
    }

    it("commits coordination.db's decisions before a node write that came earlier in the turn", async () => {
      const coordination = open();
      const node = openNode(coordination);
      const nodeWrite = node.write(() => node.statement("INSERT INTO items (name) VALUES ('claimed')").run());
      const decision = coordination.write(hold(coordination, 'lease-note'));
      await nodeWrite;
      // The node write's commit made the decision durable first.
      expect(durableNames()).toEqual(['lease-note']);
      await decision;
    });

    it("fails the node write when coordination.db's COMMIT fails, so that it never outlives what it checked", async () => {
      const coordination = open();
      const node = openNode(coordination);
      // Queued first, so that its commit, not coordination.db's own, is the one that finds the failure.
      const nodeWrite = node.write(() => node.statement("INSERT INTO items (name) VALUES ('fenced')").run());
      coordination.decide(orphan(coordination));
      const decided = coordination.committed();
      const message = await rejection(nodeWrite, 'UNAVAILABLE');
      expect(message).toContain('coordination.db could not commit');
      expect(node.read(() => node.statement('SELECT count(*) FROM items').pluck().get())).toBe(0);
      await expect(decided).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });
  });
});
