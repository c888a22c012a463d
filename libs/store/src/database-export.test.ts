import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { exportDatabase } from './database-export.js';
import { requesterMigrations } from './requester-schema.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'node-1';

interface RowLine {
  table: string;
  row: Record<string, unknown>;
}

const rowsOf = (lines: string[]): RowLine[] => lines.slice(1).map((line) => JSON.parse(line) as RowLine);

/** Whether a checkpoint of the WAL can complete now: it cannot while a reader holds an older snapshot. */
function walCheckpointCompletes(file: string): boolean {
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 0');
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return result!.busy === 0;
  } finally {
    db.close();
  }
}

describe('exportDatabase', () => {
  const temp = useTempStorage();

  it('writes a header, then every row once, parents before children, blobs in base64', async () => {
    const storage = temp.open();
    const { batch } = await storage.batches.createBatch(NODE, { jobs: [{ name: 'a', labels: { team: 'x' } }, { name: 'b' }] });
    const job = (await storage.jobStore.createJob(NODE, { state: 'QUEUED' })).job;
    await storage.jobStore.createExecution(NODE, { jobId: job.id, computeNodeId: NODE });
    await storage.checkpointStore.putCheckpoint(NODE, 'requester', { name: 'bin', data: new Uint8Array([0, 1, 254, 255]) });
    await storage.executionStore.createExecution(NODE, { jobId: job.id, requesterNodeId: NODE });
    const lease = await storage.leaseStore.grant(60);
    await storage.lockStore.acquire({ name: '/locks/held', leaseId: lease.id });

    const requester = exportDatabase(path.join(temp.dir(), `${NODE}-requester.db`));
    expect(requester.header).toEqual({ format: 'jobkeep-export', version: 1, kind: 'requester', schema: requesterMigrations.length });
    const lines = [...requester.lines()];
    expect(JSON.parse(lines[0]!)).toEqual(requester.header);
    expect(lines).toHaveLength(requester.totalRows + 1);
    const rows = rowsOf(lines);
    const tables = [...new Set(rows.map((line) => line.table))];
    const before = (parent: string, child: string) => expect(tables.indexOf(parent), `${parent} before ${child}`).toBeLessThan(tables.indexOf(child));
    before('batches', 'jobs');
    for (const child of ['job_specs', 'job_labels', 'executions']) before('jobs', child);
    expect(tables.at(-1)).toBe('sqlite_sequence');
    for (const counters of ['job_state_counts', 'batch_state_counts']) expect(tables).not.toContain(counters);
    expect(rows.filter((line) => line.table === 'jobs').map((line) => line.row.batch_id).sort()).toEqual(['', batch.id, batch.id]);
    expect(rows.find((line) => line.table === 'checkpoints')!.row).toMatchObject({ name: 'bin', data: { $base64: 'AAH+/w==' } });
    expect(rows.find((line) => line.table === 'sqlite_sequence')!.row).toEqual({ name: 'job_history', seq: job.revision + 1 });

    const compute = exportDatabase(path.join(temp.dir(), `${NODE}-compute.db`));
    expect(compute.header.kind).toBe('compute');
    expect(rowsOf([...compute.lines()]).map((line) => line.table)).toContain('execution_history');
    const coordination = exportDatabase(storage.locations.coordinationPath);
    expect(coordination.header.kind).toBe('coordination');
    const coordinationRows = rowsOf([...coordination.lines()]);
    const coordinationTables = coordinationRows.map((line) => line.table);
    expect(coordinationTables.indexOf('leases')).toBeLessThan(coordinationTables.indexOf('locks'));
    expect(coordinationRows.find((line) => line.table === 'locks')!.row).toMatchObject({ name: '/locks/held', holder_lease_id: lease.id });
  });

  it('reads one snapshot while the server writes, and lets go of it when done or stopped early', async () => {
    const storage = temp.open();
    for (let i = 0; i < 20; i++) await storage.jobStore.createJob(NODE, { name: `before-${i}` });
    const file = path.join(temp.dir(), `${NODE}-requester.db`);

    const exported = exportDatabase(file);
    const atStart = exported.totalRows;
    // Written after the export began, before and while its lines are read.
    for (let i = 0; i < 5; i++) await storage.jobStore.createJob(NODE, { name: `after-${i}` });
    const lines: string[] = [];
    for (const line of exported.lines()) {
      lines.push(line);
      if (lines.length === 10) {
        const job = (await storage.jobStore.createJob(NODE, { name: 'during' })).job;
        await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'CANCELLED' });
      }
    }
    const rows = rowsOf(lines);
    expect(rows).toHaveLength(atStart);
    const jobs = rows.filter((line) => line.table === 'jobs');
    expect(jobs.map((line) => line.row.name).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `before-${i}`).sort());
    expect(rows.filter((line) => line.table === 'job_history')).toHaveLength(20);
    expect(rows.find((line) => line.table === 'sqlite_sequence')!.row.seq).toBe(20);
    expect(walCheckpointCompletes(file)).toBe(true);
    expect((await storage.jobStore.listJobs(NODE, { pageSize: 100 })).items).toHaveLength(26);

    // Stopped after two lines: the generator's return closes the file.
    const stopped = exportDatabase(file);
    await storage.jobStore.createJob(NODE, { name: 'later' });
    const iterator = stopped.lines();
    iterator.next();
    iterator.next();
    expect(walCheckpointCompletes(file)).toBe(false);
    iterator.return(undefined);
    expect(walCheckpointCompletes(file)).toBe(true);

    // Never read at all: close() lets go.
    const unread = exportDatabase(file);
    await storage.jobStore.createJob(NODE, { name: 'later-still' });
    expect(walCheckpointCompletes(file)).toBe(false);
    unread.close();
    unread.close();
    expect(walCheckpointCompletes(file)).toBe(true);
  });

  it('refuses a file that is not a jobkeep database, and never creates one', () => {
    const dir = temp.root();
    const other = path.join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(() => exportDatabase(other)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('is not a jobkeep database') }));
    expect(() => exportDatabase(path.join(dir, 'missing.db'))).toThrow();
    expect(fs.existsSync(path.join(dir, 'missing.db'))).toBe(false);
  });
});
