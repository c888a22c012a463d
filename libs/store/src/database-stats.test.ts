import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { readDatabaseStats, type DatabaseStats } from './database-stats.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'node-1';
const JOBS = 600;
const START = Date.UTC(2030, 0, 1);

function sum(stats: DatabaseStats, field: 'pages' | 'bytes'): number {
  return stats.objects.reduce((total, object) => total + object[field], 0);
}

function object(stats: DatabaseStats, name: string) {
  return stats.objects.find((entry) => entry.name === name);
}

describe('readDatabaseStats', () => {
  const temp = useTempStorage();

  /** A store whose clock ticks one second per reading, so that history times are known. */
  function openWithClock() {
    let now = START;
    return temp.open({ clock: () => (now += 1000) });
  }

  it('accounts for every page of a closed file and counts the rows of tables and indexes', async () => {
    const storage = openWithClock();
    for (let index = 0; index < JOBS; index += 1) {
      // Half the jobs are named: the partial index jobs_by_name holds only those.
      const name = index % 2 === 0 ? `named-${index}` : undefined;
      await storage.jobStore.createJob(NODE, { name, labels: { team: 'data', shard: String(index % 7) }, spec: { blob: 'x'.repeat(500) } });
    }
    storage.close();
    const file = path.join(temp.dir(), `${NODE}-requester.db`);
    const stats = readDatabaseStats(file);

    expect(stats).toMatchObject({ path: file, walBytes: 0, pageSize: 4096 });
    expect(stats.fileBytes).toBe(stats.pageSize * stats.pageCount);
    // Every page is in exactly one b-tree or on the freelist.
    expect(sum(stats, 'pages') + stats.freelistCount).toBe(stats.pageCount);
    expect(sum(stats, 'bytes')).toBe(sum(stats, 'pages') * stats.pageSize);

    expect(object(stats, 'jobs')).toMatchObject({ type: 'table', table: 'jobs', rows: JOBS });
    expect(object(stats, 'job_specs')?.pages).toBeGreaterThan((JOBS * 500) / stats.pageSize);
    // These b-trees are deep enough to have interior pages, whose cells are entries too.
    expect(object(stats, 'jobs_by_create')).toMatchObject({ type: 'index', table: 'jobs', rows: JOBS });
    expect(object(stats, 'jobs_by_create')?.pages).toBeGreaterThan(2);
    expect(object(stats, 'jobs_by_name')).toMatchObject({ type: 'index', table: 'jobs', rows: JOBS / 2 });
    expect(object(stats, 'job_labels')).toMatchObject({ type: 'table', rows: 2 * JOBS });
    expect(object(stats, 'job_labels')?.pages).toBeGreaterThan(2);
    expect(object(stats, 'job_labels_by_pair')).toMatchObject({ type: 'index', table: 'job_labels', rows: 2 * JOBS });
    expect(object(stats, 'sqlite_schema')).toMatchObject({ type: 'table', pages: expect.any(Number) });
    const jobsObjects = stats.objects.filter((entry) => entry.table === 'jobs').map((entry) => entry.type);
    expect(jobsObjects[0]).toBe('table');
    expect(jobsObjects.slice(1).every((type) => type === 'index')).toBe(true);

    // Each object's rows, checked against a count by SQLite itself (through the index itself,
    // under its WHERE when it is partial).
    const db = new Database(file, { readonly: true });
    const definitions = new Map(db.prepare('SELECT name, sql FROM sqlite_schema').raw().all() as [string, string | null][]);
    for (const entry of stats.objects.filter((candidate) => candidate.name !== 'sqlite_schema')) {
      const partial = entry.type === 'index' ? /\sWHERE\s(.*)$/is.exec(definitions.get(entry.name) ?? '')?.[1] : undefined;
      const where = partial === undefined ? '' : `WHERE ${partial}`;
      const indexed = entry.type === 'index' ? `INDEXED BY "${entry.name}"` : '';
      const count = db.prepare(`SELECT count(*) FROM "${entry.table}" ${indexed} ${where}`).pluck().get();
      expect({ name: entry.name, rows: entry.rows }).toEqual({ name: entry.name, rows: count });
    }
    db.close();
  });

  it('gives the span of the history, and the revision retention compacted up to', async () => {
    const storage = openWithClock();
    const jobs = [];
    for (let index = 0; index < 5; index += 1) jobs.push((await storage.jobStore.createJob(NODE, {})).job);
    const last = await storage.jobStore.updateJobState(NODE, { jobId: jobs[0]?.id ?? '', newState: 'CANCELLED' });
    const file = path.join(temp.dir(), `${NODE}-requester.db`);
    expect(readDatabaseStats(file).history).toEqual({
      rows: 6,
      firstRevision: jobs[0]?.revision,
      lastRevision: last.revision,
      firstTime: jobs[0]?.createTime,
      lastTime: last.modifyTime,
      compactedRevision: 0,
    });
    storage.close();

    // What retention does: remove old history rows and record how far it went.
    const db = new Database(file);
    db.exec(`DELETE FROM job_history WHERE revision <= 2; UPDATE store_meta SET value = 2 WHERE key = 'compacted_revision'`);
    db.close();
    expect(readDatabaseStats(file).history).toMatchObject({ rows: 4, firstRevision: 3, lastRevision: last.revision, compactedRevision: 2 });
  });

  it('reads the history of a compute database, and none of coordination.db', async () => {
    const storage = openWithClock();
    const execution = await storage.executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: NODE });
    const compute = readDatabaseStats(path.join(temp.dir(), `${NODE}-compute.db`));
    expect(compute.history).toMatchObject({ rows: 1, firstRevision: execution.revision, lastRevision: execution.revision });
    const coordination = readDatabaseStats(path.join(temp.dir(), 'coordination.db'));
    expect(coordination.history).toBeUndefined();
    expect(object(coordination, 'node_databases')).toMatchObject({ type: 'table', rows: 1 });
  });

  it('gives an empty history as zeros', async () => {
    const storage = openWithClock();
    await storage.checkpointStore.putCheckpoint(NODE, 'compute', { name: 'c', data: new Uint8Array([1]) });
    const stats = readDatabaseStats(path.join(temp.dir(), `${NODE}-compute.db`));
    expect(stats.history).toEqual({ rows: 0, firstRevision: 0, lastRevision: 0, firstTime: 0, lastTime: 0, compactedRevision: 0 });
  });

  it('sees what a live store committed, still in the write-ahead log', async () => {
    const storage = openWithClock();
    for (let index = 0; index < 3; index += 1) await storage.jobStore.createJob(NODE, {});
    const stats = readDatabaseStats(path.join(temp.dir(), `${NODE}-requester.db`));
    expect(stats.walBytes).toBeGreaterThan(0);
    expect(object(stats, 'jobs')?.rows).toBe(3);
    expect(sum(stats, 'pages') + stats.freelistCount).toBe(stats.pageCount);
  });

  it('says NOT_FOUND for a missing file', () => {
    expect(() => readDatabaseStats(path.join(temp.root(), 'missing.db'))).toThrow(/missing\.db does not exist/);
  });
});
