import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import { checkCoordinationDatabase } from './coordination-check.js';
import { backupDatabase, compactDatabase, formatGain } from './database-copies.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';
import { damageRootPage } from './test-support/damaged-page.js';

const NODE = 'node-1';

/**
 * Another process that commits rows durably in a loop, as a server would, each transaction
 * writing a row and the counter that names it: a copy taken between two commits has rows
 * 1..n and the counter at n, never one without the other.
 */
const WRITER = `
  const Database = require(process.argv[1]);
  const db = new Database(process.argv[2], { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  const insert = db.prepare('INSERT INTO writer_rows (seq, payload) VALUES (?, ?)');
  const mark = db.prepare('UPDATE writer_meta SET last = ?');
  const write = db.transaction((seq) => { insert.run(seq, 'w'.repeat(300)); mark.run(seq); });
  let seq = db.prepare('SELECT last FROM writer_meta').pluck().get();
  for (;;) { seq += 1; write(seq); if (seq % 20 === 0) process.stdout.write(seq + '\\n'); }
`;

function sqliteModule(): string {
  return createRequire(import.meta.url).resolve('better-sqlite3');
}

/** Resolves once the writer reports a sequence number of at least `seq`. */
function writerReaches(writer: ChildProcess, reached: { seq: number }, seq: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the writer did not reach ${seq}; it is at ${reached.seq}`)), 20_000);
    const poll = setInterval(() => {
      if (reached.seq < seq) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    }, 5);
    writer.once('exit', (code) => reject(new Error(`the writer exited with ${code}`)));
  });
}

/** The writer's last committed sequence number, read as any reader would. */
function sourceCounter(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT last FROM writer_meta').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('compactDatabase', () => {
  const temp = useTempStorage('perTest', { memoryFilesystem: true });

  it('shrinks a file after mass deletes into a copy that passes the check, leaving the source alone', async () => {
    const storage = temp.open();
    const spec = { payload: 'p'.repeat(1500) };
    for (let index = 0; index < 5000; index += 1) await storage.jobStore.createJob(NODE, { id: `job-${index}`, spec });
    storage.close();
    const file = path.join(temp.dir(), `${NODE}-requester.db`);
    // Most jobs deleted, as a retention sweep would (the specs and labels go by cascade).
    const raw = new Database(file);
    raw.pragma('foreign_keys = ON');
    raw.exec(`DELETE FROM jobs WHERE id NOT LIKE 'job-%0'`);
    raw.close();
    const before = fs.readFileSync(file);

    const dest = path.join(temp.root(), 'compacted.db');
    const outcome = compactDatabase(file, dest);
    expect(outcome.sourceBytes).toBe(before.length);
    expect(outcome.copyBytes).toBe(fs.statSync(dest).size);
    expect(outcome.copyBytes * 5).toBeLessThan(outcome.sourceBytes);
    expect(formatGain(outcome)).toMatch(/^\d+ -> \d+ bytes \(gain=\d+\.\d\dx\)$/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);

    expect(fs.readdirSync(temp.root()).sort()).toEqual(['compacted.db', 'data']);
    expect(checkNodeDatabase('requester', dest)).toEqual([]);
    const copy = new Database(dest, { readonly: true });
    expect(copy.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(copy.prepare('SELECT count(*) FROM jobs').pluck().get()).toBe(500);
    expect(copy.prepare('SELECT count(*) FROM job_specs').pluck().get()).toBe(500);
    copy.close();
  });

  it('never overwrites: an existing destination is ALREADY_EXISTS and left as it was', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob(NODE, {});
    const file = path.join(temp.dir(), `${NODE}-requester.db`);
    const dest = path.join(temp.root(), 'taken.db');
    fs.writeFileSync(dest, 'precious');
    expect(() => compactDatabase(file, dest)).toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS', message: expect.stringContaining(dest) }));
    await rejection(backupDatabase(file, dest), 'ALREADY_EXISTS');
    expect(fs.readFileSync(dest, 'utf8')).toBe('precious');
    expect(fs.readdirSync(temp.root()).sort()).toEqual(['data', 'taken.db']);
  });

  it('says NOT_FOUND for a missing source, and for a destination in a missing directory', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob(NODE, {});
    const file = path.join(temp.dir(), `${NODE}-requester.db`);
    expect(() => compactDatabase(path.join(temp.dir(), 'none.db'), path.join(temp.root(), 'x.db'))).toThrow(/none\.db does not exist/);
    await rejection(backupDatabase(file, path.join(temp.root(), 'no-dir', 'x.db')), 'NOT_FOUND');
  });
});

describe('backupDatabase', () => {
  const temp = useTempStorage();
  const writers: ChildProcess[] = [];
  afterEach(() => {
    for (const writer of writers.splice(0)) writer.kill('SIGKILL');
  });

  it('copies a file that another process keeps writing: the copy opens, passes the check and holds a prefix of the writes', async () => {
    const storage = temp.open();
    for (let index = 0; index < 50; index += 1) await storage.jobStore.createJob(NODE, { spec: { n: index } });
    const file = path.join(temp.dir(), `${NODE}-requester.db`);
    // Some bulk, so that the copy takes long enough for many commits to land meanwhile.
    const raw = new Database(file);
    raw.exec(`CREATE TABLE writer_rows (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL);
              CREATE TABLE writer_meta (last INTEGER NOT NULL); INSERT INTO writer_meta VALUES (0)`);
    raw.transaction(() => {
      const insert = raw.prepare('INSERT INTO writer_rows (seq, payload) VALUES (?, ?)');
      for (let seq = 1; seq <= 30_000; seq += 1) insert.run(seq, 'b'.repeat(300));
      raw.prepare('UPDATE writer_meta SET last = 30000').run();
    })();
    raw.close();

    const writer = spawn(process.execPath, ['-e', WRITER, sqliteModule(), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    writers.push(writer);
    const reached = { seq: 0 };
    writer.stdout?.on('data', (chunk: Buffer) => {
      const lines = chunk.toString().trim().split('\n');
      reached.seq = Number(lines[lines.length - 1]);
    });
    await writerReaches(writer, reached, 30_100);

    const dest = path.join(temp.root(), 'backup.db');
    const committed = () => sourceCounter(file);
    const atStart = committed();
    const outcome = await backupDatabase(file, dest);
    const atEnd = committed();
    // The writer committed while the copy was taken, and is still going.
    expect(atEnd).toBeGreaterThan(atStart);
    await writerReaches(writer, reached, atEnd + 100);

    expect(outcome.copyBytes).toBe(fs.statSync(dest).size);
    expect(fs.existsSync(`${dest}-wal`)).toBe(false);
    expect(checkNodeDatabase('requester', dest)).toEqual([]);
    const copy = new Database(dest, { readonly: true });
    expect(copy.pragma('journal_mode', { simple: true })).toBe('wal');
    const last = copy.prepare('SELECT last FROM writer_meta').pluck().get() as number;
    const rows = copy.prepare('SELECT count(*) AS count, min(seq) AS first, max(seq) AS final FROM writer_rows').get();
    expect(rows).toEqual({ count: last, first: 1, final: last });
    expect(last).toBeGreaterThanOrEqual(atStart);
    expect(last).toBeLessThanOrEqual(atEnd);
    expect(copy.prepare('SELECT count(*) FROM jobs').pluck().get()).toBe(50);
    copy.close();

    // A compaction under the same load is a consistent snapshot too.
    const compacted = path.join(temp.root(), 'compacted.db');
    compactDatabase(file, compacted);
    expect(checkNodeDatabase('requester', compacted)).toEqual([]);
    const rebuilt = new Database(compacted, { readonly: true });
    const rebuiltLast = rebuilt.prepare('SELECT last FROM writer_meta').pluck().get();
    expect(rebuilt.prepare('SELECT count(*) AS count, max(seq) AS final FROM writer_rows').get()).toEqual({ count: rebuiltLast, final: rebuiltLast });
    rebuilt.close();

    writer.kill('SIGKILL');
    expect(checkNodeDatabase('requester', file)).toEqual([]);
  }, 60_000);

  it('copies the coordination.db of a live store into one that passes its check', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob(NODE, {});
    const lease = await storage.leaseStore.grant(60);
    await storage.lockStore.acquire({ name: '/locks/drain', leaseId: lease.id });
    const dest = path.join(temp.root(), 'coordination-backup.db');
    await backupDatabase(path.join(temp.dir(), 'coordination.db'), dest);
    expect(checkCoordinationDatabase(dest)).toEqual([]);
    const copy = new Database(dest, { readonly: true });
    expect(copy.prepare('SELECT name, holder_lease_id FROM locks').all()).toEqual([{ name: '/locks/drain', holder_lease_id: lease.id }]);
    copy.close();
  });
});

describe('copies of a damaged file', () => {
  const temp = useTempStorage();

  it('are never published: the copy fails quick_check, so the call fails and leaves nothing behind', async () => {
    const storage = temp.open();
    for (let index = 0; index < 300; index += 1) await storage.jobStore.createJob(NODE, {});
    const file = storage.locations.nodeDatabasePath('requester', NODE);
    storage.close();
    damageRootPage(file, 'jobs');
    const quotedFile = file.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const refusal = new RegExp(`^the copy of ${quotedFile} fails quick_check \\(.+\\): the source is damaged; run check on it$`);

    const compacted = path.join(temp.root(), 'compacted.db');
    expect(() => compactDatabase(file, compacted)).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(refusal) }));
    const backup = path.join(temp.root(), 'backup.db');
    expect(await rejection(backupDatabase(file, backup), 'FAILED_PRECONDITION')).toMatch(refusal);
    // Neither the copy nor its temporary file is left.
    expect(fs.readdirSync(temp.root())).toEqual(['data']);
  });
});

describe('formatGain', () => {
  it('prints both sizes and their ratio with two decimals', () => {
    expect(formatGain({ sourceBytes: 1_000_000, copyBytes: 300_000 })).toBe('1000000 -> 300000 bytes (gain=3.33x)');
    expect(formatGain({ sourceBytes: 4096, copyBytes: 4096 })).toBe('4096 -> 4096 bytes (gain=1.00x)');
  });
});
