import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkCoordinationDatabase, checkDatabaseFile } from './coordination-check.js';
import type { Storage } from './storage.js';
import { useTempStorage } from './test-support/temp-storage.js';
import { damageRootPage } from './test-support/damaged-page.js';

/** A coordination.db with a node, a held lock, a released one and a node database. */
async function populate(storage: Storage): Promise<{ file: string; leaseId: number }> {
  const lease = await storage.leaseStore.grant(600);
  await storage.nodeRegistry.register({ id: 'node-1', kind: 'compute', address: 'localhost:7001', labels: { zone: 'a', gpu: 'yes' }, leaseId: lease.id });
  await storage.lockStore.acquire({ name: '/locks/drain', leaseId: lease.id });
  const released = await storage.lockStore.acquire({ name: '/locks/retention', leaseId: lease.id });
  await storage.lockStore.release('/locks/retention', lease.id, released.fencingToken);
  await storage.jobStore.createJob('node-1', {});
  return { file: path.join(storage.locations.dataDir, 'coordination.db'), leaseId: lease.id };
}

/** Changes a closed file with raw SQL, bypassing the foreign keys, as a bug or a careless hand might. */
function damage(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = OFF');
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('checkCoordinationDatabase', () => {
  const temp = useTempStorage();

  it('finds nothing wrong with a coordination.db the stores wrote, open or closed, and changes nothing', async () => {
    const storage = temp.open();
    const { file } = await populate(storage);
    expect(checkCoordinationDatabase(file)).toEqual([]);
    storage.close();
    const before = fs.readFileSync(file);
    expect(checkCoordinationDatabase(file)).toEqual([]);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('reports a lock held by a lease that no longer exists, and a node naming it, once each', async () => {
    const storage = temp.open();
    const { file, leaseId } = await populate(storage);
    storage.close();
    damage(file, `DELETE FROM leases WHERE id = ${leaseId}`);
    expect(checkCoordinationDatabase(file)).toEqual([
      { check: 'locks', message: `lock /locks/drain is held by lease ${leaseId}, which does not exist` },
      { check: 'nodes', message: `node node-1 names lease ${leaseId}, which does not exist` },
    ]);
  });

  it('reports a lock whose fencing token is above the counter that hands tokens out', async () => {
    const storage = temp.open();
    const { file } = await populate(storage);
    storage.close();
    damage(file, `UPDATE coordination_meta SET value = 1 WHERE key = 'fencing_token'`);
    expect(checkCoordinationDatabase(file)).toEqual([{ check: 'locks', message: "lock /locks/retention has fencing token 2, above the counter's 1" }]);
    damage(file, `DELETE FROM coordination_meta`);
    expect(checkCoordinationDatabase(file)).toEqual([{ check: 'locks', message: 'coordination_meta has no fencing_token counter' }]);
  });

  it('reports node_labels rows that differ from the labels of their node', async () => {
    const storage = temp.open();
    const { file } = await populate(storage);
    storage.close();
    damage(file, `DELETE FROM node_labels WHERE key = 'zone'; UPDATE node_labels SET value = 'no' WHERE key = 'gpu'`);
    expect(checkCoordinationDatabase(file)).toEqual([
      { check: 'nodes', message: 'node node-1 has label gpu=yes, which node_labels lacks' },
      { check: 'nodes', message: 'node node-1 has label zone=a, which node_labels lacks' },
      { check: 'nodes', message: 'node_labels has gpu=no for node node-1, whose labels do not' },
    ]);
    damage(file, `UPDATE nodes SET labels = '["not", "an object"]'`);
    expect(checkCoordinationDatabase(file)).toContainEqual({ check: 'nodes', message: 'node node-1 has labels that are not a JSON object' });
  });

  it('reports other dangling references through foreign_key_check', async () => {
    const storage = temp.open();
    const { file } = await populate(storage);
    storage.close();
    damage(file, `INSERT INTO node_labels (node_id, key, value) VALUES ('ghost', 'k', 'v')`);
    expect(checkCoordinationDatabase(file)).toEqual([
      { check: 'foreign-keys', message: 'row null of node_labels refers to a missing row of nodes' },
      { check: 'nodes', message: 'node_labels has k=v for node ghost, whose labels do not' },
    ]);
  });

  it('lists at most 100 problems of a kind, then says there are more', async () => {
    const storage = temp.open();
    const { file } = await populate(storage);
    storage.close();
    const values = Array.from({ length: 150 }, (_, index) => `('/locks/l-${String(index).padStart(3, '0')}', 999, 1, 0, 0, 0)`).join(', ');
    damage(file, `INSERT INTO locks (name, holder_lease_id, fencing_token, acquire_time, lock_delay_ms, available_time) VALUES ${values}`);
    const problems = checkCoordinationDatabase(file);
    expect(problems).toHaveLength(101);
    expect(problems[0]).toEqual({ check: 'locks', message: 'lock /locks/l-000 is held by lease 999, which does not exist' });
    expect(problems[100]).toEqual({ check: 'locks', message: 'and more locks held by a missing lease; only the first 100 are listed' });
  });

  it('reports a schema version it does not check instead of checking it', async () => {
    const { file } = await populate(temp.open());
    const db = new Database(file);
    db.pragma('user_version = 1');
    db.close();
    expect(checkCoordinationDatabase(file)).toEqual([{ check: 'schema', message: expect.stringMatching(/^schema version 1, not the \d+ this jobkeep checks$/) }]);
  });

  it('reports a damaged page as an integrity problem instead of failing with it', async () => {
    const storage = temp.open();
    const lease = await storage.leaseStore.grant(600);
    for (let index = 0; index < 200; index += 1) {
      await storage.nodeRegistry.register({ id: `node-${index}`, kind: 'compute', address: `host-${index}:7001`, labels: { zone: 'a' }, leaseId: lease.id });
    }
    const file = storage.locations.coordinationPath;
    storage.close();
    damageRootPage(file, 'nodes');
    const problems = checkCoordinationDatabase(file);
    expect(problems).toContainEqual({ check: 'integrity', message: expect.stringMatching(/2nd reference to page/) });
    expect(problems).toContainEqual({ check: 'integrity', message: 'the check could not read the file: database disk image is malformed' });
  });

  it('reports a file that is not a database as a finding', () => {
    const file = path.join(temp.root(), 'junk.db');
    fs.writeFileSync(file, 'x'.repeat(8192));
    expect(checkCoordinationDatabase(file)).toEqual([{ check: 'integrity', message: expect.stringContaining('not a database') }]);
  });
});

describe('checkDatabaseFile', () => {
  const temp = useTempStorage();

  it('checks each kind of file by its kind, and says NOT_FOUND for a missing one', async () => {
    const storage = temp.open();
    const { file } = await populate(storage);
    await storage.executionStore.createExecution('node-1', { jobId: 'j-1', requesterNodeId: 'node-1' });
    expect(checkDatabaseFile('coordination', file)).toEqual([]);
    expect(checkDatabaseFile('requester', path.join(temp.dir(), 'node-1-requester.db'))).toEqual([]);
    expect(checkDatabaseFile('compute', path.join(temp.dir(), 'node-1-compute.db'))).toEqual([]);
    // The requester check finds a coordination.db lacks its tables: the kind matters.
    expect(checkDatabaseFile('requester', file)).not.toEqual([]);
    for (const kind of ['coordination', 'requester', 'compute'] as const) {
      expect(() => checkDatabaseFile(kind, path.join(temp.dir(), 'gone.db'))).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    }
  });
});
