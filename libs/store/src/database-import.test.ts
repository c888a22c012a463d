import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { computeMigrations } from './compute-schema.js';
import { checkNodeDatabase } from './consistency-check.js';
import { exportDatabase } from './database-export.js';
import { importRows } from './database-import.js';
import type { NodeDatabaseKind } from './database-locations.js';
import { migrate } from './migrations.js';
import { parseRetentionSetting } from './retention-policy.js';
import { requesterMigrations } from './requester-schema.js';
import { openSqlite, type SqliteDatabase } from './sqlite-connection.js';
import { StagedExport } from './staged-export.js';
import { readStateCounters } from './state-counters.js';
import type { Storage } from './storage.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'src';
const HOUR = 3_600_000;
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

/**
 * A requester and a compute database with a bit of everything: a batch, executions, history,
 * binary checkpoints, and history compacted by retention after the newest jobs were deleted, so
 * that sqlite_sequence is ahead of every revision left.
 */
async function populate(storage: Storage, clock: { now: number }): Promise<void> {
  const { jobStore, executionStore, checkpointStore } = storage;
  await storage.batches.createBatch(NODE, { labels: { team: 'a' }, jobs: [{ name: 'b1', state: 'QUEUED' }, { name: 'b2', labels: { x: 'y' } }] });
  const running = (await jobStore.createJob(NODE, { name: 'run', spec: { image: 'alpine' }, state: 'QUEUED' })).job;
  await jobStore.updateJobState(NODE, { jobId: running.id, newState: 'RUNNING' });
  await jobStore.createExecution(NODE, { jobId: running.id, computeNodeId: NODE });
  const execution = await executionStore.createExecution(NODE, { jobId: running.id, requesterNodeId: NODE, jobSpec: { image: 'alpine' } });
  for (const newState of ['BID_ACCEPTED', 'RUNNING', 'COMPLETED'] as const) {
    await executionStore.updateExecutionState(NODE, { executionId: execution.id, newState, runResult: { exitCode: 0, stdoutTail: 'ok', stderrTail: '' } });
  }
  for (const kind of ['requester', 'compute'] as const) await checkpointStore.putCheckpoint(NODE, kind, { name: 'bytes', data: ALL_BYTES });
  for (let i = 0; i < 3; i++) {
    const job = (await jobStore.createJob(NODE, {})).job;
    await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'CANCELLED' });
  }
  clock.now += 2 * HOUR;
  const [report] = await storage.retention.runAll((_kind, _node, error) => {
    throw error;
  });
  expect(report).toMatchObject({ deleted: { CANCELLED: 3 }, historyRowsRemoved: 6 });
}

function exportLines(file: string): string[] {
  return [...exportDatabase(file).lines()];
}

/** A new, migrated node database, opened as the store opens one. */
function newDatabase(file: string, kind: NodeDatabaseKind): SqliteDatabase {
  const db = openSqlite(file, true);
  migrate(db, kind === 'requester' ? requesterMigrations : computeMigrations, file);
  return db;
}

/** The import inside one write transaction, as the caller makes it. */
const importInTx = (db: SqliteDatabase, kind: NodeDatabaseKind, staged: StagedExport) => db.transaction(() => importRows(db, kind, staged)).immediate();

function fingerprint(file: string): string {
  const hash = createHash('sha256');
  for (const name of [file, `${file}-wal`]) if (fs.existsSync(name)) hash.update(fs.readFileSync(name));
  return hash.digest('hex');
}

function errorOf(work: () => unknown): { code?: string; message: string } {
  try {
    work();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

describe('database import', () => {
  const temp = useTempStorage();
  const staged: StagedExport[] = [];
  afterEach(() => {
    for (const export_ of staged.splice(0)) export_.discard();
  });
  /** The lines read into a staging file under the test's directory, discarded after the test. */
  const stage = async (lines: AsyncIterable<string> | Iterable<string>) => {
    const export_ = await StagedExport.read(lines, temp.root());
    staged.push(export_);
    return export_;
  };
  const stagingLeft = () => fs.readdirSync(temp.root()).filter((name) => name.startsWith('.jobkeep-import-'));

  async function source(): Promise<Record<NodeDatabaseKind, string>> {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const storage = temp.open({ clock: () => clock.now, retention: { requester: parseRetentionSetting('job', 'CANCELLED=delete:1h'), compute: {} } });
    await populate(storage, clock);
    storage.close();
    return { requester: path.join(temp.dir(), `${NODE}-requester.db`), compute: path.join(temp.dir(), `${NODE}-compute.db`) };
  }

  it('reproduces the source, counters included, and a second import changes nothing', async () => {
    const files = await source();
    for (const kind of ['requester', 'compute'] as const) {
      const lines = exportLines(files[kind]);
      expect(lines.some((line) => line.startsWith('{"table":"sqlite_sequence"'))).toBe(true);
      const copyFile = path.join(temp.root(), `copy-${kind}.db`);
      const copy = newDatabase(copyFile, kind);
      expect(importInTx(copy, kind, await stage(lines))).toEqual({ rowsImported: lines.length - 1, unchanged: false });
      expect(exportLines(copyFile)).toEqual(lines);
      expect(checkNodeDatabase(kind, copyFile)).toEqual([]);
      const source = openSqlite(files[kind], false);
      const nonZero = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).filter(([, count]) => count > 0));
      expect(nonZero(readStateCounters(copy, kind))).toEqual(nonZero(readStateCounters(source, kind)));
      if (kind === 'requester') {
        const batchCounts = (db: SqliteDatabase) => db.prepare('SELECT batch_id, state, count FROM batch_state_counts WHERE count > 0 ORDER BY 1, 2').all();
        expect(batchCounts(copy)).toEqual(batchCounts(source));
      }
      source.close();

      const before = fingerprint(copyFile);
      expect(importInTx(copy, kind, await stage(lines))).toEqual({ rowsImported: 0, unchanged: true });
      expect(fingerprint(copyFile)).toBe(before);
      copy.close();
    }
  });

  it('refuses a database that holds other rows, or differs in one value, and writes nothing', async () => {
    const files = await source();
    const parsed = await stage(exportLines(files.requester));
    const otherFile = path.join(temp.root(), 'other.db');
    const other = newDatabase(otherFile, 'requester');
    other.prepare("INSERT INTO queue_holds (queue, message, hold_time) VALUES ('q', 'held', 1)").run();
    let before = fingerprint(otherFile);
    expect(errorOf(() => importInTx(other, 'requester', parsed))).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/^database is not empty and differs from the export: table \w+ holds \d+ rows, the export \d+$/),
    });
    expect(fingerprint(otherFile)).toBe(before);
    other.close();

    const copyFile = path.join(temp.root(), 'copy.db');
    const copy = newDatabase(copyFile, 'requester');
    importInTx(copy, 'requester', parsed);
    const job = copy.prepare("SELECT id FROM jobs WHERE name = 'run'").get() as { id: string };
    copy.prepare("UPDATE jobs SET state_message = 'changed' WHERE id = ?").run(job.id);
    before = fingerprint(copyFile);
    expect(errorOf(() => importInTx(copy, 'requester', parsed)).message).toBe(
      `database is not empty and differs from the export: table jobs row {"id":"${job.id}"} differs in column state_message`,
    );
    expect(fingerprint(copyFile)).toBe(before);
    copy.close();
  });

  it('says which line of a malformed export is wrong', async () => {
    const header = '{"format":"jobkeep-export","version":1,"kind":"requester","schema":3}';
    const cases: [string[], string][] = [
      [[], 'line 1: the export is empty; it must start with a jobkeep-export header'],
      [['{"table":"jobs","row":{}}'], 'line 1: not a jobkeep-export header; an export starts with {"format":"jobkeep-export",...}'],
      [[header.replace('"version":1', '"version":2')], 'line 1: export format version 2 is not one this jobkeep reads (1)'],
      [[header.replace('requester', 'scheduler')], 'line 1: the header\'s kind must be one of coordination, requester, compute, not "scheduler"'],
      [[header, '', '{"table":"jobs"'], "line 3: not JSON (Expected ',' or '}' after property value in JSON at position 15)"],
      [[header, '{"table":"jobs","row":[]}'], 'line 2: a row line must be {"table": NAME, "row": {COLUMN: VALUE, ...}}'],
      [[header, '{"table":"jobs","row":{},"more":1}'], 'line 2: a row line must be {"table": NAME, "row": {COLUMN: VALUE, ...}}'],
      [[header, '{"table":"jobs","row":{"id":true}}'], 'line 2: column "id" of jobs holds true; a value is null, a number, a string or {"$base64": "..."}'],
      [[header, '{"table":"t","row":{"data":{"$base64":"**"}}}'], 'line 2: column "data" of t holds {"$base64":"**"}; a value is null, a number, a string or {"$base64": "..."}'],
    ];
    for (const [lines, message] of cases) {
      await expect(stage(lines), message).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message });
      expect(stagingLeft()).toEqual([]);
    }
    async function* asLines() {
      yield header;
      yield '';
      yield '{"table":"store_meta","row":{"key":"compacted_revision","value":0}}';
    }
    const read = await stage(asLines());
    expect([...read.rows()]).toEqual([{ table: 'store_meta', row: { key: 'compacted_revision', value: 0 }, line: 3 }]);
    expect(read.counts()).toEqual(new Map([['store_meta', 1]]));
    read.discard();
    expect(stagingLeft()).toEqual([]);
  });

  it('refuses the wrong kind, schema, table or column before writing anything', async () => {
    const files = await source();
    const lines = exportLines(files.requester);
    const file = path.join(temp.root(), 'target.db');
    const db = newDatabase(file, 'requester');
    const header = JSON.parse(lines[0]!) as { kind: string; schema: number };
    const withHeader = (changes: object) => [JSON.stringify({ ...header, ...changes }), ...lines.slice(1)];
    const jobIndex = lines.findIndex((line) => line.startsWith('{"table":"jobs"'));
    const jobRow = (JSON.parse(lines[jobIndex]!) as { row: Record<string, unknown> }).row;
    const { state: _state, ...stateless } = jobRow;
    const withJobRow = (row: object) => lines.map((line, i) => (i === jobIndex ? JSON.stringify({ table: 'jobs', row }) : line));
    const end = lines.length + 1;
    const cases: [string[], NodeDatabaseKind, string, string][] = [
      [exportLines(files.compute), 'requester', 'INVALID_ARGUMENT', 'an export of a compute database cannot be imported into a requester database'],
      [withHeader({ kind: 'coordination' }), 'requester', 'INVALID_ARGUMENT', 'only node databases can be imported; this is an export of coordination.db'],
      [withHeader({ schema: header.schema - 1 }), 'requester', 'FAILED_PRECONDITION', `the export has schema version ${header.schema - 1}, the database schema version ${header.schema}; they must be the same`],
      [[...lines, '{"table":"nope","row":{}}'], 'requester', 'INVALID_ARGUMENT', `line ${end}: a requester database has no table "nope"`],
      [[...lines, '{"table":"job_state_counts","row":{}}'], 'requester', 'INVALID_ARGUMENT', `line ${end}: table job_state_counts is kept by triggers and is never imported`],
      [withJobRow({ ...jobRow, extra: 1 }), 'requester', 'INVALID_ARGUMENT', `line ${jobIndex + 1}: table jobs has no column "extra"`],
      [withJobRow(stateless), 'requester', 'INVALID_ARGUMENT', `line ${jobIndex + 1}: the row of jobs lacks column state`],
    ];
    const before = fingerprint(file);
    for (const [variant, kind, code, message] of cases) {
      const export_ = await stage(variant);
      // Outside any transaction: a row written before the refusal would stay.
      expect(errorOf(() => importRows(db, kind, export_)), message).toMatchObject({ code, message });
    }
    expect(fingerprint(file)).toBe(before);
    expect(db.prepare('SELECT count(*) AS n FROM jobs').get()).toEqual({ n: 0 });
    db.close();
  });
});
