import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listDatabaseInfos, readJobHistoryFile, readLocksFile, readNodesFile } from './admin-reads.js';
import { DatabaseLocations } from './database-locations.js';
import type { Storage } from './storage.js';
import { filesBelow, useTempStorage } from './test-support/temp-storage.js';

/** Two nodes' databases, nodes (one archived) under a lease, a held and a free lock. */
async function populate(storage: Storage): Promise<{ jobId: string }> {
  const { jobStore, executionStore } = storage;
  const job = (await jobStore.createJob('a', { state: 'QUEUED' })).job;
  await jobStore.updateJobState('a', { jobId: job.id, newState: 'RUNNING' });
  await jobStore.createExecution('a', { jobId: job.id, computeNodeId: 'a' });
  await jobStore.createJob('a', {});
  await jobStore.createJob('b', { state: 'HELD' });
  const execution = await executionStore.createExecution('a', { jobId: job.id, requesterNodeId: 'a' });
  await executionStore.updateExecutionState('a', { executionId: execution.id, newState: 'BID_ACCEPTED' });

  const lease = await storage.leaseStore.grant(60);
  await storage.nodeRegistry.register({ id: 'a', kind: 'requester', address: 'localhost:1', labels: { zone: 'z1' }, leaseId: lease.id });
  await storage.nodeRegistry.register({ id: 'b', kind: 'compute', address: 'localhost:2', capacity: { slots: 4 }, leaseId: lease.id });
  await storage.nodeRegistry.register({ id: 'c', kind: 'compute', address: 'localhost:3', leaseId: lease.id });
  await storage.nodeRegistry.unregister('c');
  await storage.lockStore.acquire({ name: '/locks/held', leaseId: lease.id });
  const free = await storage.lockStore.acquire({ name: '/locks/free', leaseId: lease.id });
  await storage.lockStore.release('/locks/free', lease.id, free.fencingToken);
  return { jobId: job.id };
}

/** Each database file's bytes and modification time. */
function databaseFiles(dir: string): Record<string, string> {
  const files = filesBelow(dir).filter((name) => name.endsWith('.db'));
  return Object.fromEntries(
    files.map((name) => {
      const file = path.join(dir, name);
      return [name, `${fs.statSync(file).mtimeMs} ${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`];
    }),
  );
}

describe('admin reads', () => {
  const temp = useTempStorage();

  it('read what the store wrote, on files a server has open', async () => {
    const storage = temp.open();
    const { jobId } = await populate(storage);
    const infos = listDatabaseInfos(storage.locations);
    expect(infos.map((info) => [info.name, info.kind, info.nodeId, info.lifecycle, info.exists])).toEqual([
      ['coordination', 'coordination', '', '', true],
      ['a-compute', 'compute', 'a', 'ACTIVE', true],
      ['a-requester', 'requester', 'a', 'ACTIVE', true],
      ['b-requester', 'requester', 'b', 'ACTIVE', true],
    ]);
    expect(infos[0]).toMatchObject({ path: storage.locations.coordinationPath, counts: {}, createTime: 0 });
    expect(infos.map((info) => info.counts)).toEqual([{}, { BID_ACCEPTED: 1, CREATED: 0 }, { PENDING: 1, RUNNING: 1, QUEUED: 0 }, { HELD: 1 }]);
    const catalogue = storage.catalogue.list();
    expect(infos.slice(1).map((info) => [info.path, info.createTime])).toEqual(catalogue.map((entry) => [entry.path, entry.createTime]));
    for (const info of infos) {
      const wal = fs.existsSync(`${info.path}-wal`) ? fs.statSync(`${info.path}-wal`).size : 0;
      expect(info.sizeBytes).toBe(fs.statSync(info.path).size + wal);
    }

    const requesterFile = storage.locations.nodeDatabasePath('requester', 'a');
    const history = readJobHistoryFile(requesterFile, jobId);
    expect(history.map((event) => event.type)).toEqual(['JOB_CREATED', 'JOB_STATE_CHANGED', 'EXECUTION_CREATED']);
    expect(history).toEqual((await storage.jobStore.getJobHistory('a', { jobId })).items);
    expect(readJobHistoryFile(requesterFile, 'j-unknown')).toEqual([]);
    expect(() => readJobHistoryFile(storage.locations.nodeDatabasePath('compute', 'a'), jobId)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('is not a requester database') }),
    );

    const nodes = readNodesFile(storage.locations.coordinationPath);
    expect(nodes.map((node) => [node.id, node.online, node.archived])).toEqual([
      ['a', true, false],
      ['b', true, false],
      ['c', false, true],
    ]);
    expect(nodes).toEqual((await storage.nodeRegistry.list({ includeArchived: true })).items);

    const locks = readLocksFile(storage.locations.coordinationPath);
    expect(locks.map((lock) => [lock.name, lock.holderLeaseId !== null])).toEqual([
      ['/locks/free', false],
      ['/locks/held', true],
    ]);
    expect(locks).toEqual((await storage.lockStore.list({})).items);
  });

  it('describe each file where the locations put it, not where the catalogue recorded it: a copied data directory is read as itself', async () => {
    const jobStorePath = path.join(temp.root(), 'requesters', '{node}-requester.db');
    const storage = temp.open({ jobStorePath });
    await storage.jobStore.createJob('a', {});
    await storage.executionStore.createExecution('a', { jobId: 'j-1', requesterNodeId: 'a' });
    const requesterFile = path.join(temp.root(), 'requesters', 'a-requester.db');
    expect(listDatabaseInfos(storage.locations).map((info) => info.path)).toEqual([
      storage.locations.coordinationPath,
      path.join(temp.dir(), 'a-compute.db'),
      requesterFile,
    ]);
    storage.close();

    // A restored copy, every file in one directory as `backup` writes them, missing one.
    const copy = path.join(temp.root(), 'restored');
    fs.mkdirSync(copy);
    fs.copyFileSync(path.join(temp.dir(), 'coordination.db'), path.join(copy, 'coordination.db'));
    fs.copyFileSync(requesterFile, path.join(copy, 'a-requester.db'));
    // The live database moves on after the copy was taken.
    const live = temp.open({ jobStorePath });
    await live.jobStore.createJob('a', {});
    live.close();

    const infos = listDatabaseInfos(new DatabaseLocations({ dataDir: copy }));
    expect(infos.map((info) => [info.name, info.path, info.exists])).toEqual([
      ['coordination', path.join(copy, 'coordination.db'), true],
      ['a-compute', path.join(copy, 'a-compute.db'), false],
      ['a-requester', path.join(copy, 'a-requester.db'), true],
    ]);
    expect(infos[1]).toMatchObject({ sizeBytes: 0, counts: {} });
    expect(infos[2]).toMatchObject({ sizeBytes: fs.statSync(path.join(copy, 'a-requester.db')).size, counts: { PENDING: 1 } });
    expect(listDatabaseInfos(new DatabaseLocations({ dataDir: temp.dir(), jobStorePath }))[2]!.counts).toEqual({ PENDING: 2 });
  });

  it('never change a database file, and say so when a file or the data directory is missing', async () => {
    const storage = temp.open();
    const { jobId } = await populate(storage);
    storage.close();
    const dir = temp.dir();
    fs.rmSync(path.join(dir, 'b-requester.db'));
    const before = databaseFiles(dir);

    const locations = new DatabaseLocations({ dataDir: dir });
    const missing = listDatabaseInfos(locations).find((info) => info.name === 'b-requester');
    expect(missing).toMatchObject({ exists: false, sizeBytes: 0, counts: {}, lifecycle: 'ACTIVE' });
    readJobHistoryFile(path.join(dir, 'a-requester.db'), jobId);
    readNodesFile(locations.coordinationPath);
    readLocksFile(locations.coordinationPath);
    expect(databaseFiles(dir)).toEqual(before);
    // A reader of a WAL file may leave SQLite's empty companions, never anything else.
    const added = filesBelow(dir).filter((name) => !(name in before));
    for (const name of added) expect(name).toMatch(/\.db-(wal|shm)$/);
    for (const name of added.filter((name) => name.endsWith('-wal'))) expect(fs.statSync(path.join(dir, name)).size).toBe(0);

    const empty = path.join(temp.root(), 'empty');
    fs.mkdirSync(empty);
    expect(() => listDatabaseInfos(new DatabaseLocations({ dataDir: empty }))).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', message: `no jobkeep data directory at ${empty} (no coordination.db)` }),
    );
    expect(() => readNodesFile(path.join(empty, 'coordination.db'))).toThrow();
    expect(() => readJobHistoryFile(path.join(empty, 'x-requester.db'), jobId)).toThrow();
    expect(filesBelow(empty)).toEqual([]);
  });
});
