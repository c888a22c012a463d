import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { getRows, listKeys, listTableNames, listTables } from './database-tables.js';
import type { Storage } from './storage.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'node-1';

/** Throws unless `read` fails with a JobkeepError of `code`; returns its message. */
function failure(read: () => unknown, code: string): string {
  try {
    read();
  } catch (error) {
    expect((error as { code?: string }).code).toBe(code);
    return (error as Error).message;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

/**
 * Jobs whose ids test ordering, case and '_' (a LIKE wildcard); their request ids, which are
 * free text, test '%' and characters beyond ASCII.
 */
const JOBS = { 'b-1': 'q%1', 'a-2': 'q-2', 'A-1': 'qa', a_x: 'q_', 'ab-1': 'é-1', 'a-1': '\u{1D11E}a' };

async function populate(storage: Storage): Promise<string> {
  for (const [id, requestId] of Object.entries(JOBS)) {
    await storage.jobStore.createJob(NODE, { id, requestId, labels: { team: 'data', tier: id }, spec: { image: `img:${id}` } });
  }
  // Twelve history rows in all: enough to tell number order from text order.
  for (const id of Object.keys(JOBS)) await storage.jobStore.updateJobState(NODE, { jobId: id, newState: 'QUEUED' });
  await storage.checkpointStore.putCheckpoint(NODE, 'requester', { name: 'cursor', data: new Uint8Array([0, 1, 254, 255]) });
  return path.join(storage.locations.dataDir, `${NODE}-requester.db`);
}

describe('listTables', () => {
  const temp = useTempStorage();

  it('lists every user table with its row count and key columns, and changes nothing in the file', async () => {
    const storage = temp.open();
    const file = await populate(storage);
    storage.close();
    const before = fs.readFileSync(file);
    const tables = listTables(file);

    const names = tables.map((table) => table.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['jobs', 'job_specs', 'job_labels', 'job_history', 'executions', 'checkpoints', 'store_meta']));
    expect(names.filter((name) => name.startsWith('sqlite_'))).toEqual([]);
    const byName = Object.fromEntries(tables.map((table) => [table.name, table]));
    expect(byName.jobs).toEqual({ name: 'jobs', rows: 6, keyColumns: ['id'] });
    expect(byName.job_labels).toEqual({ name: 'job_labels', rows: 12, keyColumns: ['job_id', 'key'] });
    expect(byName.job_history).toEqual({ name: 'job_history', rows: 12, keyColumns: ['revision'] });
    expect(byName.checkpoints).toEqual({ name: 'checkpoints', rows: 1, keyColumns: ['rowid'] });
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('reads the committed state of a file a live store is writing', async () => {
    const storage = temp.open();
    const file = await populate(storage);
    await storage.jobStore.createJob(NODE, { id: 'late' });
    expect(listTables(file).find((table) => table.name === 'jobs')?.rows).toBe(7);
    expect(listKeys(file, 'jobs', { prefix: 'late' }).keys).toEqual(['late']);
  });

  it('says NOT_FOUND, naming the file, for a file that does not exist', () => {
    const missing = path.join(temp.root(), 'nope.db');
    expect(failure(() => listTables(missing), 'NOT_FOUND')).toContain(missing);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('says INVALID_ARGUMENT, naming the file, for a file that is not a database', () => {
    const junk = path.join(temp.root(), 'junk.db');
    fs.writeFileSync(junk, 'x'.repeat(8192));
    expect(failure(() => listTables(junk), 'INVALID_ARGUMENT')).toBe(`${junk} is not a SQLite database`);
  });
});

describe('listTableNames', () => {
  const temp = useTempStorage();

  it('reads the names from sqlite_schema alone, so a file whose tables are damaged still shows its kind', async () => {
    const storage = temp.open();
    const file = await populate(storage);
    storage.close();
    const names = listTables(file).map((table) => table.name);
    expect(listTableNames(file)).toEqual(names);

    // Garbage over the page header of store_meta, a table without an index: a count of its
    // rows has to read that page.
    const db = new Database(file, { readonly: true });
    const root = db.prepare(`SELECT rootpage FROM sqlite_schema WHERE name = 'store_meta'`).pluck().get() as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const handle = fs.openSync(file, 'r+');
    fs.writeSync(handle, Buffer.alloc(8, 0xee), 0, 8, (root - 1) * pageSize);
    fs.closeSync(handle);
    expect(() => listTables(file)).toThrow(expect.objectContaining({ code: 'SQLITE_CORRUPT' }));
    expect(listTableNames(file)).toEqual(names);
  });
});

describe('listKeys', () => {
  const temp = useTempStorage('perFile');
  let file = '';
  const setUp = async () => (file ||= await populate(temp.open()));

  it('lists keys in primary-key order, byte order for text', async () => {
    await setUp();
    expect(listKeys(file, 'jobs')).toEqual({ keys: ['A-1', 'a-1', 'a-2', 'a_x', 'ab-1', 'b-1'], truncated: false });
  });

  it('filters on a prefix case-sensitively, with no LIKE wildcards', async () => {
    await setUp();
    expect(listKeys(file, 'jobs', { prefix: 'a' }).keys).toEqual(['a-1', 'a-2', 'a_x', 'ab-1']);
    expect(listKeys(file, 'jobs', { prefix: 'a-' }).keys).toEqual(['a-1', 'a-2']);
    expect(listKeys(file, 'jobs', { prefix: 'a_' }).keys).toEqual(['a_x']);
    expect(listKeys(file, 'jobs', { prefix: 'A' }).keys).toEqual(['A-1']);
    expect(listKeys(file, 'jobs', { prefix: 'zz' })).toEqual({ keys: [], truncated: false });
    expect(listKeys(file, 'request_ids').keys).toEqual(['q%1', 'q-2', 'q_', 'qa', 'é-1', '\u{1D11E}a']);
    expect(listKeys(file, 'request_ids', { prefix: 'q%' }).keys).toEqual(['q%1']);
    expect(listKeys(file, 'request_ids', { prefix: 'q_' }).keys).toEqual(['q_']);
    expect(listKeys(file, 'request_ids', { prefix: 'é' }).keys).toEqual(['é-1']);
    expect(listKeys(file, 'request_ids', { prefix: '\u{1D11E}' }).keys).toEqual(['\u{1D11E}a']);
  });

  it('stops at the limit and says that more keys matched', async () => {
    await setUp();
    expect(listKeys(file, 'jobs', { limit: 3 })).toEqual({ keys: ['A-1', 'a-1', 'a-2'], truncated: true });
    expect(listKeys(file, 'jobs', { prefix: 'a-', limit: 2 })).toEqual({ keys: ['a-1', 'a-2'], truncated: false });
    expect(listKeys(file, 'jobs', { prefix: 'a', limit: 4 }).truncated).toBe(false);
    expect(listKeys(file, 'jobs', { prefix: 'a', limit: 3 }).truncated).toBe(true);
  });

  it('joins the columns of a composite key with "/"', async () => {
    await setUp();
    expect(listKeys(file, 'job_labels', { prefix: 'a-1' }).keys).toEqual(['a-1/team', 'a-1/tier']);
  });

  it('orders an integer key by number and filters it on its digits', async () => {
    await setUp();
    const keys = listKeys(file, 'job_history').keys;
    expect(keys.map(Number)).toEqual([...keys.map(Number)].sort((a, b) => a - b));
    expect(keys).toHaveLength(12);
    expect(listKeys(file, 'job_history', { prefix: '1' }).keys).toEqual(['1', '10', '11', '12']);
    expect(listKeys(file, 'job_history', { prefix: '1', limit: 2 })).toEqual({ keys: ['1', '10'], truncated: true });
    expect(listKeys(file, 'checkpoints').keys).toEqual(['1']);
  });

  it('refuses a limit below 1, above 10000 or not an integer with INVALID_ARGUMENT', async () => {
    await setUp();
    for (const limit of [0, -1, 10_001, 2.5]) expect(failure(() => listKeys(file, 'jobs', { limit }), 'INVALID_ARGUMENT')).toContain('limit');
    expect(listKeys(file, 'jobs', { limit: 10_000 }).keys).toHaveLength(6);
  });

  it('says NOT_FOUND for an unknown table, listing the tables, and never runs a name as SQL', async () => {
    await setUp();
    const message = failure(() => listKeys(file, 'jbos'), 'NOT_FOUND');
    expect(message).toMatch(new RegExp(`^table "jbos" does not exist in ${file}; tables: .*checkpoints, .*jobs`));
    for (const table of ['jobs"; DROP TABLE jobs; --', 'jobs" WHERE 0=1 --', "jobs' --", 'sqlite_schema', 'JOBS']) {
      failure(() => listKeys(file, table), 'NOT_FOUND');
      failure(() => getRows(file, table, 'a-1'), 'NOT_FOUND');
    }
    expect(listTables(file).find((table) => table.name === 'jobs')?.rows).toBe(6);
  });
});

describe('getRows', () => {
  const temp = useTempStorage('perFile');
  let file = '';
  const setUp = async () => (file ||= await populate(temp.open()));

  it('returns the row of a job, and its spec from job_specs, as JSON values', async () => {
    await setUp();
    const [job, ...others] = getRows(file, 'jobs', 'a-1');
    expect(others).toEqual([]);
    expect(job).toMatchObject({ id: 'a-1', state: 'QUEUED', namespace: expect.any(String), revision: expect.any(Number) });
    const [spec] = getRows(file, 'job_specs', 'a-1');
    expect(JSON.parse(String(spec?.spec))).toEqual({ image: 'img:a-1' });
    expect(JSON.parse(JSON.stringify(job))).toEqual(job);
  });

  it('returns every row under the first column of a composite key, in key order', async () => {
    await setUp();
    expect(getRows(file, 'job_labels', 'a-1')).toEqual([
      { job_id: 'a-1', key: 'team', value: 'data' },
      { job_id: 'a-1', key: 'tier', value: 'a-1' },
    ]);
  });

  it('matches an integer key by number, and refuses a key that is not an integer there', async () => {
    await setUp();
    expect(getRows(file, 'job_history', '3')).toEqual([expect.objectContaining({ revision: 3, job_id: 'A-1', type: expect.any(String) })]);
    expect(getRows(file, 'job_history', '+3')).toHaveLength(1);
    expect(failure(() => getRows(file, 'job_history', 'three'), 'INVALID_ARGUMENT')).toContain('not an integer');
    expect(failure(() => getRows(file, 'job_history', '99999999999999999999'), 'INVALID_ARGUMENT')).toContain('range');
  });

  it('shows a blob as base64 and a table without a key by its rowid', async () => {
    await setUp();
    expect(getRows(file, 'checkpoints', '1')).toEqual([expect.objectContaining({ rowid: 1, name: 'cursor', data: { $base64: 'AAH+/w==' } })]);
  });

  it('returns nothing for a key no row has', async () => {
    await setUp();
    expect(getRows(file, 'jobs', 'a-')).toEqual([]);
    expect(getRows(file, 'job_history', '1000')).toEqual([]);
  });
});
