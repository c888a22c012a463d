import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { DatabaseLifecycle, NodeDatabaseKind } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { adminTempRoot } from './admin-copy-stream.js';
import { startServer } from './jobkeep-server.js';
import { useAdminServers } from './test-support/admin-clients.js';
import { failsWith } from './test-support/fails-with.js';

const NODE = 'alpha';

describe('jobkeep.v1.AdminService over gRPC: inspecting databases', () => {
  const servers = useAdminServers();

  /** A server with two jobs (one cancelled) on NODE's requester database and one execution on its compute database. */
  const startWithData = async () => {
    const started = await servers.start();
    const { client, server } = started;
    const { job: render } = await client.createJob({ nodeId: NODE, job: { name: 'render', labels: { team: 'vfx' }, spec: { frames: [1, 2] } } });
    const { job: encode } = await client.createJob({ nodeId: NODE, job: { name: 'encode' } });
    await server.storage.jobStore.updateJobState(NODE, { jobId: encode!.id, newState: 'CANCELLED', message: 'not needed' });
    await server.storage.executionStore.createExecution(NODE, { jobId: render!.id, requesterNodeId: NODE });
    return { ...started, render: render!, encode: encode! };
  };

  it('lists coordination.db, then every node database with its lifecycle, size and counts per state', async () => {
    const { admin, dataDir } = await startWithData();
    const { databases } = await admin.listDatabases({});
    expect(databases.map((info) => info.name)).toEqual(['coordination', `${NODE}-compute`, `${NODE}-requester`]);
    const [coordination, compute, requester] = databases;
    expect(coordination).toMatchObject({ nodeId: '', kind: NodeDatabaseKind.UNSPECIFIED, lifecycle: DatabaseLifecycle.UNSPECIFIED, exists: true });
    expect(coordination!.path).toBe(path.join(path.resolve(dataDir), 'coordination.db'));
    expect(requester).toMatchObject({
      nodeId: NODE,
      kind: NodeDatabaseKind.REQUESTER,
      lifecycle: DatabaseLifecycle.ACTIVE,
      exists: true,
      counts: expect.objectContaining({ PENDING: 1n, CANCELLED: 1n }),
    });
    expect(requester!.sizeBytes).toBeGreaterThan(0n);
    expect(requester!.createTime).toBeDefined();
    expect(compute).toMatchObject({ kind: NodeDatabaseKind.COMPUTE, lifecycle: DatabaseLifecycle.ACTIVE, counts: expect.objectContaining({ CREATED: 1n }) });
  });

  it('finds no problem in healthy databases, the server writing them all along', async () => {
    const { admin } = await startWithData();
    for (const database of ['coordination', `${NODE}-requester`, `${NODE}-compute`]) {
      expect((await admin.checkDatabase({ database })).problems).toEqual([]);
    }
  });

  it('lists tables with their rows and keys, lists keys by prefix, and gets a job as JSON', async () => {
    const { admin, render, encode } = await startWithData();
    const database = `${NODE}-requester`;
    const { tables } = await admin.listTables({ database });
    expect(tables.find((table) => table.name === 'jobs')).toMatchObject({ rows: 2n, keyColumns: ['id'] });
    expect(tables.find((table) => table.name === 'job_history')).toMatchObject({ keyColumns: ['revision'] });

    expect((await admin.listKeys({ database, table: 'jobs' })).keys).toEqual([render.id, encode.id].sort());
    const one = await admin.listKeys({ database, table: 'jobs', limit: 1 });
    expect(one).toMatchObject({ keys: [[render.id, encode.id].sort()[0]], truncated: true });
    expect((await admin.listKeys({ database, table: 'jobs', prefix: render.id })).keys).toEqual([render.id]);

    const { rowsJson } = await admin.getRows({ database, table: 'jobs', key: render.id });
    expect(rowsJson).toHaveLength(1);
    expect(JSON.parse(rowsJson[0]!)).toMatchObject({ id: render.id, name: 'render', state: 'PENDING' });
    await expect(admin.getRows({ database, table: 'jobs', key: 'no-such-job' })).rejects.toEqual(failsWith('NOT_FOUND', 'jobs', 'no-such-job'));
    await expect(admin.listKeys({ database, table: 'no_such_table' })).rejects.toEqual(failsWith('NOT_FOUND', 'no_such_table'));
    await expect(admin.listKeys({ database, table: 'jobs', limit: 10_001 })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'limit'));
  });

  it('gives page, table and index figures and the span of the history', async () => {
    const { admin, dataDir } = await startWithData();
    const { stats } = await admin.getDatabaseStats({ database: `${NODE}-requester` });
    expect(stats!.path).toBe(path.join(path.resolve(dataDir), `${NODE}-requester.db`));
    expect(stats!.pageSize).toBeGreaterThan(0n);
    expect(stats!.pageCount).toBeGreaterThan(0n);
    expect(stats!.objects.find((object) => object.name === 'jobs')).toMatchObject({ type: 'table', table: 'jobs', rows: 2n });
    expect(stats!.objects.some((object) => object.type === 'index' && object.table === 'jobs')).toBe(true);
    // Two creates and a state change.
    expect(stats!.history).toMatchObject({ rows: 3n, firstRevision: 1n, lastRevision: 3n, compactedRevision: 0n });
    expect(stats!.history!.firstTime).toBeDefined();

    const coordination = await admin.getDatabaseStats({ database: 'coordination' });
    expect(coordination.stats!.history).toBeUndefined();
  });

  it('calls a malformed database name INVALID_ARGUMENT and a missing one NOT_FOUND', async () => {
    const { admin } = await startWithData();
    for (const database of ['', 'alpha', 'alpha-worker', '../etc-requester', 'coordination.db']) {
      await expect(admin.checkDatabase({ database })).rejects.toEqual(failsWith('INVALID_ARGUMENT'));
    }
    await expect(admin.listTables({ database: 'ghost-requester' })).rejects.toEqual(failsWith('NOT_FOUND', 'ghost-requester'));
    await expect(admin.getDatabaseStats({ database: 'ghost-compute' })).rejects.toEqual(failsWith('NOT_FOUND', 'ghost-compute'));
  });
});

describe('the data directory hold', () => {
  const servers = useAdminServers();

  it('refuses a second server on the same data directory, naming the holder, until the first stops', async () => {
    const first = await servers.start();
    const config = { ...first.config, listen: '127.0.0.1:0' };
    const quiet = pino({ level: 'silent' });
    await expect(startServer(config, quiet)).rejects.toEqual(failsWith('FAILED_PRECONDITION', first.dataDir, `pid ${process.pid}`, first.server.address));

    await first.stop();
    const second = await servers.start({ dataDir: first.dataDir });
    expect((await second.admin.listDatabases({})).databases[0]!.name).toBe('coordination');
  });

  it('lets go of the data directory when the server cannot start, and clears copies a crash left behind', async () => {
    const running = await servers.start();
    const other = await servers.start();
    await other.stop();
    // The port is taken: the start fails after the hold was taken.
    await expect(startServer({ ...other.config, listen: running.server.address }, pino({ level: 'silent' }))).rejects.toThrow(/cannot listen/);

    const leftover = path.join(adminTempRoot(other.dataDir), 'copy-crashed', `${NODE}-requester.db`);
    fs.mkdirSync(path.dirname(leftover), { recursive: true });
    fs.writeFileSync(leftover, 'half a copy');
    const restarted = await servers.start({ dataDir: other.dataDir });
    expect(fs.existsSync(adminTempRoot(restarted.dataDir))).toBe(false);
  });
});
