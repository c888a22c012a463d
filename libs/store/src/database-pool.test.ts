import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { computeMigrations } from './compute-schema.js';
import { DatabasePool, type DatabaseOpenedInfo } from './database-pool.js';
import { requesterMigrations } from './requester-schema.js';
import { useTempStorage } from './test-support/temp-storage.js';

describe('opening node databases', () => {
  const temp = useTempStorage();

  it('gives a new database its name only once it is migrated, over anything a crash left half made', async () => {
    const storage = temp.open();
    const file = storage.locations.nodeDatabasePath('requester', 'node-9');
    // What a crash while creating it would leave: a temporary file, half written.
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.creating`, 'not a database');
    await storage.jobStore.createJob('node-9', {});
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(requesterMigrations.length);
    } finally {
      db.close();
    }
    expect(fs.readdirSync(path.dirname(file)).filter((name) => name.startsWith('node-9'))).toEqual(
      expect.not.arrayContaining([expect.stringContaining('.creating')]),
    );
  });

  it('reports each open with the per-state counts, for both kinds, again after an LRU eviction', async () => {
    const opened: DatabaseOpenedInfo[] = [];
    const storage = temp.open({ maxOpenDatabases: 1, onDatabaseOpened: (info) => opened.push(info) });
    const job = (await storage.jobStore.createJob('node-1', { state: 'QUEUED' })).job;
    await storage.jobStore.createJob('node-1', {});
    await storage.jobStore.updateJobState('node-1', { jobId: job.id, newState: 'RUNNING' });
    const execution = await storage.executionStore.createExecution('node-1', { jobId: job.id, requesterNodeId: 'node-1' });
    await storage.executionStore.updateExecutionState('node-1', { executionId: execution.id, newState: 'BID_REJECTED' });
    await storage.jobStore.getJob('node-1', { id: job.id });

    expect(opened).toEqual([
      { kind: 'requester', nodeId: 'node-1', file: path.join(temp.dir(), 'node-1-requester.db'), counts: {} },
      { kind: 'compute', nodeId: 'node-1', file: path.join(temp.dir(), 'node-1-compute.db'), counts: {} },
      // Only one may be open, so reading the job reopened the requester database.
      { kind: 'requester', nodeId: 'node-1', file: path.join(temp.dir(), 'node-1-requester.db'), counts: { PENDING: 1, QUEUED: 0, RUNNING: 1 } },
    ]);

    storage.close();
    opened.length = 0;
    const reopened = temp.open({ onDatabaseOpened: (info) => opened.push(info) });
    await reopened.executionStore.getCounters('node-1');
    expect(opened).toEqual([expect.objectContaining({ kind: 'compute', counts: { BID_REJECTED: 1, CREATED: 0 } })]);
  });

  it('takes the counts from the counters table, not from a scan of the records', async () => {
    const first = temp.open();
    const job = (await first.jobStore.createJob('node-1', {})).job;
    first.close();
    // A counter nobody could have counted from the rows shows where the report comes from.
    const raw = new Database(path.join(temp.dir(), 'node-1-requester.db'));
    raw.prepare(`UPDATE job_state_counts SET count = 41 WHERE state = 'PENDING'`).run();
    raw.close();

    const opened: DatabaseOpenedInfo[] = [];
    const storage = temp.open({ onDatabaseOpened: (info) => opened.push(info) });
    await storage.jobStore.getJob('node-1', { id: job.id });
    expect(opened.map((info) => info.counts)).toEqual([{ PENDING: 41 }]);
  });

  it('reports nothing for a read of a database that does not exist', async () => {
    const opened: DatabaseOpenedInfo[] = [];
    const storage = temp.open({ onDatabaseOpened: (info) => opened.push(info) });
    await expect(storage.executionStore.getCounters('never-seen')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(opened).toEqual([]);
  });

  it('opens and creates node databases with the durability of its connection options', () => {
    const storage = temp.open();
    const pool = new DatabasePool({
      locations: storage.locations,
      catalogue: storage.catalogue,
      migrations: { requester: requesterMigrations, compute: computeMigrations },
      maxOpen: 4,
      connection: { durability: 'power-loss-may-lose-writes' },
    });
    try {
      expect(pool.get('requester', 'node-1', true).db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    } finally {
      pool.closeAll();
    }
  });
});
