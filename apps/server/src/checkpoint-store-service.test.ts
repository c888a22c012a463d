import fs from 'node:fs';
import path from 'node:path';
import { CheckpointStore, NodeDatabaseKind, createTypedClient, type TypedClient } from '@jobkeep/api';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';
import { failsWith } from './test-support/fails-with.js';

const NODE = 'agent-1';
const { REQUESTER, COMPUTE } = NodeDatabaseKind;
/** Bytes as a plain array: received bytes are Buffers, which toEqual tells apart from Uint8Arrays. */
const bytes = (data: Uint8Array | undefined) => [...(data ?? [])];
describe('jobkeep.v1.CheckpointStore over gRPC', () => {
  const servers = useTestServers();
  const clients: TypedClient<typeof CheckpointStore>[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  const start = async () => {
    const started = await servers.start();
    const checkpoints = createTypedClient(CheckpointStore, started.server.address, { defaultDeadlineMs: 5000 });
    clients.push(checkpoints);
    return { ...started, checkpoints };
  };

  it('round-trips put, get and list in both kinds of node database', async () => {
    const { checkpoints, dataDir } = await start();
    const data = new Uint8Array([0, 1, 2, 254, 255]);
    const { checkpoint } = await checkpoints.putCheckpoint({ nodeId: NODE, kind: REQUESTER, name: 'orchestrator/state', data, expectedRevision: 0n });
    expect(checkpoint).toMatchObject({ name: 'orchestrator/state', revision: 1n });
    expect(bytes(checkpoint!.data)).toEqual([0, 1, 2, 254, 255]);
    expect(checkpoint!.modifyTime).toBeDefined();
    expect(fs.existsSync(path.join(dataDir, `${NODE}-requester.db`))).toBe(true);

    const { checkpoint: replaced } = await checkpoints.putCheckpoint({ nodeId: NODE, kind: REQUESTER, name: 'orchestrator/state', data: new Uint8Array([9]), expectedRevision: 1n });
    expect(replaced).toMatchObject({ revision: 2n });
    expect(bytes(replaced!.data)).toEqual([9]);
    expect((await checkpoints.getCheckpoint({ nodeId: NODE, kind: REQUESTER, name: 'orchestrator/state' })).checkpoint).toEqual(replaced);
    await expect(checkpoints.getCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'orchestrator/state' })).rejects.toEqual(failsWith('NOT_FOUND'));

    await checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'watch/executions', data: new TextEncoder().encode('1234') });
    await checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'watch/jobs', data: new TextEncoder().encode('77') });
    await checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'other', data: new Uint8Array() });
    const first = await checkpoints.listCheckpoints({ nodeId: NODE, kind: COMPUTE, prefix: 'watch/', pageSize: 1 });
    const second = await checkpoints.listCheckpoints({ nodeId: NODE, kind: COMPUTE, prefix: 'watch/', pageSize: 1, pageToken: first.nextPageToken });
    expect([...first.checkpoints, ...second.checkpoints].map((item) => [item.name, item.revision, item.data.length])).toEqual([
      ['watch/executions', 1n, 0],
      ['watch/jobs', 1n, 0],
    ]);
    expect(second.nextPageToken).toBe('');
  });

  it('keeps a megabyte exactly', async () => {
    const { checkpoints } = await start();
    const data = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) % 251);
    await checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'big', data });
    const { checkpoint } = await checkpoints.getCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'big' });
    expect(Buffer.from(checkpoint!.data).equals(data)).toBe(true);
  });

  it('answers a stale expected revision with FAILED_PRECONDITION naming the current one', async () => {
    const { checkpoints } = await start();
    await checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'leader', data: new Uint8Array([1]) });
    await checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'leader', data: new Uint8Array([2]) });
    await expect(
      checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'leader', data: new Uint8Array([3]), expectedRevision: 1n }),
    ).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'revision 2'));
    await expect(
      checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'leader', data: new Uint8Array([3]), expectedRevision: 0n }),
    ).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'revision 2'));
    const { checkpoint } = await checkpoints.getCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'leader' });
    expect(checkpoint).toMatchObject({ revision: 2n });
    expect(bytes(checkpoint!.data)).toEqual([2]);
  });

  it('refuses malformed requests with INVALID_ARGUMENT and creates nothing', async () => {
    const { checkpoints, dataDir } = await start();
    const before = fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort();
    // Made one at a time, so that no failure arrives before the test is waiting for it.
    const attempts: [() => Promise<unknown>, string][] = [
      [() => checkpoints.putCheckpoint({ nodeId: NODE, name: 'x', data: new Uint8Array() }), 'kind'],
      [() => checkpoints.putCheckpoint({ nodeId: NODE, kind: 5 as NodeDatabaseKind, name: 'x', data: new Uint8Array() }), 'kind'],
      [() => checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: '', data: new Uint8Array() }), 'name'],
      [() => checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'no spaces', data: new Uint8Array() }), 'name'],
      [() => checkpoints.putCheckpoint({ nodeId: NODE, kind: COMPUTE, name: 'x', data: new Uint8Array(1024 * 1024 + 1) }), 'limit'],
      [() => checkpoints.putCheckpoint({ nodeId: '../up', kind: COMPUTE, name: 'x', data: new Uint8Array() }), 'node_id'],
      [() => checkpoints.listCheckpoints({ nodeId: NODE, kind: COMPUTE, prefix: 'a*' }), 'prefix'],
      [() => checkpoints.getCheckpoint({ nodeId: NODE, name: 'x' }), 'kind'],
    ];
    for (const [attempt, fragment] of attempts) await expect(attempt()).rejects.toEqual(failsWith('INVALID_ARGUMENT', fragment));
    expect(fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort()).toEqual(before);
  });

  it('answers reads of a node without that database with NOT_FOUND and creates no file', async () => {
    const { checkpoints, dataDir } = await start();
    const before = fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort();
    await expect(checkpoints.getCheckpoint({ nodeId: 'never-seen', kind: COMPUTE, name: 'x' })).rejects.toEqual(failsWith('NOT_FOUND', 'never-seen'));
    await expect(checkpoints.listCheckpoints({ nodeId: 'never-seen', kind: REQUESTER })).rejects.toEqual(failsWith('NOT_FOUND', 'never-seen'));
    expect(fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort()).toEqual(before);
  });
});
