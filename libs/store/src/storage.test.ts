import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStorage } from './storage.js';
import { filesBelow, rejection, useTempStorage } from './test-support/temp-storage.js';

describe('storage', () => {
  const temp = useTempStorage();

  it('creates coordination.db at once and a node database only on its first write', async () => {
    const storage = temp.open();
    expect(filesBelow(temp.dir())).toEqual(['coordination.db', 'coordination.db-shm', 'coordination.db-wal']);
    await rejection(storage.jobStore.listJobs('node-1', {}), 'NOT_FOUND');
    await rejection(storage.jobStore.getJob('node-1', { id: 'j-1' }), 'NOT_FOUND');
    await rejection(storage.jobStore.updateJobState('node-1', { jobId: 'j-1', newState: 'RUNNING' }), 'NOT_FOUND');
    expect(filesBelow(temp.dir())).not.toContain('node-1-requester.db');

    await storage.jobStore.createJob('node-1', {});
    expect(filesBelow(temp.dir())).toContain('node-1-requester.db');
    expect(storage.catalogue.list()).toEqual([
      expect.objectContaining({ nodeId: 'node-1', kind: 'requester', lifecycle: 'ACTIVE', path: path.join(temp.dir(), 'node-1-requester.db') }),
    ]);
  });

  it.each(['../x', 'a/b', '', 'x'.repeat(200), '..', '/etc/passwd'])(
    'refuses node id %j with INVALID_ARGUMENT and creates no file anywhere',
    async (nodeId) => {
      const storage = temp.open();
      const before = filesBelow(temp.root());
      const message = await rejection(storage.jobStore.createJob(nodeId, {}), 'INVALID_ARGUMENT');
      expect(message).toContain('node_id');
      await rejection(storage.jobStore.listJobs(nodeId, {}), 'INVALID_ARGUMENT');
      expect(filesBelow(temp.root())).toEqual(before);
      expect(storage.catalogue.list()).toEqual([]);
    },
  );

  it('leaves every database file in WAL mode', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob('node-1', {});
    storage.close();
    for (const file of ['coordination.db', 'node-1-requester.db']) {
      const db = new Database(path.join(temp.dir(), file));
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      db.close();
    }
  });

  it('opens coordination.db FULL whatever the durability asked for: a revoke must survive a power loss', () => {
    expect(temp.open().coordination.db.pragma('synchronous', { simple: true })).toBe(2);
    const relaxed = openStorage({ dataDir: path.join(temp.root(), 'relaxed'), durability: 'power-loss-may-lose-writes' });
    expect(relaxed.coordination.db.pragma('synchronous', { simple: true })).toBe(2);
    relaxed.close();
  });

  it('keeps data across a close and a reopen', async () => {
    const first = temp.open();
    const job = (await first.jobStore.createJob('node-1', { name: 'durable', spec: { x: 1 } })).job;
    first.close();
    const second = temp.open();
    expect(await second.jobStore.getJob('node-1', { id: job.id })).toEqual(job);
  });

  it('refuses a database written by a newer jobkeep, with a clear message, and leaves it alone', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob('node-1', {});
    storage.close();
    const file = path.join(temp.dir(), 'node-1-requester.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();

    const reopened = temp.open();
    const message = await rejection(reopened.jobStore.listJobs('node-1', {}), 'FAILED_PRECONDITION');
    expect(message).toContain('schema version 99');
    expect(message).toContain('upgrade jobkeep');
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(99);
    check.close();
  });

  it('refuses to open a data directory whose coordination.db is newer than the code', () => {
    temp.open().close();
    const db = new Database(path.join(temp.dir(), 'coordination.db'));
    db.pragma('user_version = 42');
    db.close();
    expect(() => openStorage({ dataDir: temp.dir() })).toThrow(/schema version 42/);
  });

  it('bounds open handles with an LRU and reopens evicted databases transparently', async () => {
    const opened: string[] = [];
    const storage = temp.open({ maxOpenDatabases: 2, onDatabaseOpened: (info) => opened.push(info.nodeId) });
    const jobs = [];
    for (const node of ['n1', 'n2', 'n3', 'n4']) jobs.push((await storage.jobStore.createJob(node, { name: node })).job);
    for (const [index, node] of ['n1', 'n2', 'n3', 'n4'].entries()) {
      expect(await storage.jobStore.getJob(node, { name: node })).toEqual(jobs[index]);
    }
    expect(storage.catalogue.list().map((entry) => entry.nodeId)).toEqual(['n1', 'n2', 'n3', 'n4']);
    // With room for two, reading them again in the same order reopens each one (n1 evicts n3, ...).
    expect(opened).toEqual(['n1', 'n2', 'n3', 'n4', 'n1', 'n2', 'n3', 'n4']);
  });

  it('places node databases by the path template, after validating the node id', async () => {
    const custom = path.join(temp.dir(), 'custom');
    const storage = temp.open({ jobStorePath: path.join(custom, 'req', '{node}.sqlite') });
    await storage.jobStore.createJob('edge-7', {});
    expect(fs.existsSync(path.join(custom, 'req', 'edge-7.sqlite'))).toBe(true);
    expect(() => openStorage({ dataDir: temp.dir(), jobStorePath: '/tmp/no-placeholder.db' })).toThrow(/\{node\}/);
  });
});
