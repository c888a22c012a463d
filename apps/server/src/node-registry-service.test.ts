import { NodeDatabaseKind, OnlineFilter } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { eventually, sleep, useCoordinationClients } from './test-support/coordination-clients.js';
import { useTestServers } from './test-support/test-server.js';
import { failsWith } from './test-support/fails-with.js';

describe('jobkeep.v1.NodeRegistry over gRPC', () => {
  const servers = useTestServers();
  const connect = useCoordinationClients();
  const start = async () => connect((await servers.start()).server.address);

  it('round-trips register, get, list and unregister', async () => {
    const { leases, nodes } = await start();
    const { lease } = await leases.grant({ ttlSeconds: 30n });
    const { node } = await nodes.register({
      node: {
        id: 'compute-1',
        kind: NodeDatabaseKind.COMPUTE,
        address: '10.0.0.7:7421',
        labels: { zone: 'eu-1' },
        capacity: { cpuMillis: 8000n, memoryBytes: 34359738368n, gpus: 1 },
        online: false, // output-only: ignored
      },
      leaseId: lease!.id,
    });
    expect(node).toMatchObject({
      id: 'compute-1',
      kind: NodeDatabaseKind.COMPUTE,
      address: '10.0.0.7:7421',
      labels: { zone: 'eu-1' },
      capacity: { cpuMillis: 8000n, memoryBytes: 34359738368n, diskBytes: 0n, gpus: 1 },
      leaseId: lease!.id,
      online: true,
      archived: false,
    });
    expect(node!.registerTime).toBeDefined();
    expect(node!.unregisterTime).toBeUndefined();
    expect((await nodes.get({ nodeId: 'compute-1' })).node).toEqual(node);
    expect((await nodes.list({})).nodes).toEqual([node]);

    const { node: archived } = await nodes.unregister({ nodeId: 'compute-1' });
    expect(archived).toMatchObject({ archived: true, online: false });
    expect(archived!.unregisterTime).toBeDefined();
  });

  it('answers bad registrations with clear statuses', async () => {
    const { leases, nodes } = await start();
    const { lease } = await leases.grant({ ttlSeconds: 30n });
    const node = { id: 'n-1', kind: NodeDatabaseKind.REQUESTER, address: 'requester-1:7420' };
    await expect(nodes.register({ leaseId: lease!.id })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'node is required'));
    await expect(nodes.register({ node: { ...node, kind: NodeDatabaseKind.UNSPECIFIED }, leaseId: lease!.id })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'node.kind'),
    );
    await expect(nodes.register({ node: { ...node, address: 'no-port' }, leaseId: lease!.id })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'address'));
    await expect(nodes.register({ node: { ...node, capacity: { cpuMillis: -1n } }, leaseId: lease!.id })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'capacity.cpu_millis'),
    );
    await expect(nodes.register({ node })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'lease_id'));
    await expect(nodes.register({ node, leaseId: 424242n })).rejects.toEqual(failsWith('NOT_FOUND', 'lease 424242'));
    await leases.revoke({ leaseId: lease!.id });
    await expect(nodes.register({ node, leaseId: lease!.id })).rejects.toEqual(failsWith('NOT_FOUND'));
    await expect(nodes.get({ nodeId: 'n-1' })).rejects.toEqual(failsWith('NOT_FOUND', 'n-1'));
    await expect(nodes.unregister({ nodeId: 'n-1' })).rejects.toEqual(failsWith('NOT_FOUND', 'n-1'));
    await expect(nodes.get({ nodeId: '../x' })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'node_id'));
  });

  it('lists by kind, online state and labels, a page at a time', async () => {
    const { leases, nodes } = await start();
    const { lease: live } = await leases.grant({ ttlSeconds: 30n });
    const { lease: revoked } = await leases.grant({ ttlSeconds: 30n });
    const register = (id: string, kind: NodeDatabaseKind, labels: Record<string, string>, leaseId: bigint) =>
      nodes.register({ node: { id, kind, address: `${id}:7421`, labels }, leaseId });
    await register('c-1', NodeDatabaseKind.COMPUTE, { zone: 'eu', gpu: 'a100' }, live!.id);
    await register('c-2', NodeDatabaseKind.COMPUTE, { zone: 'us' }, revoked!.id);
    await register('c-3', NodeDatabaseKind.COMPUTE, { zone: 'eu' }, live!.id);
    await register('r-1', NodeDatabaseKind.REQUESTER, { zone: 'eu' }, live!.id);
    await leases.revoke({ leaseId: revoked!.id });
    const ids = async (request: Parameters<typeof nodes.list>[0]) => {
      const found: string[] = [];
      let pageToken = '';
      do {
        const page = await nodes.list({ ...request, pageSize: 1, pageToken });
        found.push(...page.nodes.map((node) => node.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return found;
    };
    expect(await ids({})).toEqual(['c-1', 'c-2', 'c-3', 'r-1']);
    expect(await ids({ kind: NodeDatabaseKind.COMPUTE, online: OnlineFilter.ONLINE })).toEqual(['c-1', 'c-3']);
    expect(await ids({ online: OnlineFilter.OFFLINE })).toEqual(['c-2']);
    expect(await ids({ labelSelector: { zone: 'eu' } })).toEqual(['c-1', 'c-3', 'r-1']);
    expect(await ids({ labelSelector: { zone: 'eu', gpu: 'a100' } })).toEqual(['c-1']);
    expect((await nodes.get({ nodeId: 'c-2' })).node).toMatchObject({ online: false, leaseId: 0n });
    await expect(nodes.list({ online: 7 as OnlineFilter })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'online'));
  });

  it('takes a node offline when its lease expires', async () => {
    const { leases, nodes } = await start();
    const { lease } = await leases.grant({ ttlSeconds: 2n });
    await nodes.register({ node: { id: 'c-1', kind: NodeDatabaseKind.COMPUTE, address: 'c-1:7421' }, leaseId: lease!.id });
    expect((await nodes.list({ online: OnlineFilter.ONLINE })).nodes.map((node) => node.id)).toEqual(['c-1']);
    await sleep(2100);
    // Offline from the lease's expire time on, whether or not the sweeper has deleted it yet.
    expect((await nodes.get({ nodeId: 'c-1' })).node).toMatchObject({ online: false, archived: false });
    expect((await nodes.list({ online: OnlineFilter.ONLINE })).nodes).toEqual([]);
    expect((await nodes.list({ online: OnlineFilter.OFFLINE })).nodes.map((node) => node.id)).toEqual(['c-1']);
    // And once the sweeper has ended the lease, the node no longer names it.
    await eventually(async () => (await nodes.get({ nodeId: 'c-1' })).node?.leaseId === 0n);
    expect((await nodes.list({ online: OnlineFilter.OFFLINE })).nodes.map((node) => node.id)).toEqual(['c-1']);
  });

  it('keeps an unregistered node in the archive, and un-archives it when it registers again', async () => {
    const { leases, nodes } = await start();
    const { lease } = await leases.grant({ ttlSeconds: 30n });
    const node = { id: 'r-1', kind: NodeDatabaseKind.REQUESTER, address: 'r-1:7420', labels: { team: 'etl' } };
    await nodes.register({ node, leaseId: lease!.id });
    const { node: archived } = await nodes.unregister({ nodeId: 'r-1' });
    expect(archived).toMatchObject({ id: 'r-1', archived: true, online: false, labels: { team: 'etl' } });
    expect((await nodes.get({ nodeId: 'r-1' })).node).toEqual(archived);
    expect((await nodes.list({})).nodes).toEqual([]);
    expect((await nodes.list({ includeArchived: true })).nodes).toEqual([archived]);
    expect((await nodes.list({ includeArchived: true, online: OnlineFilter.OFFLINE })).nodes).toEqual([archived]);

    const { lease: next } = await leases.grant({ ttlSeconds: 30n });
    const { node: again } = await nodes.register({ node: { ...node, address: 'r-1:7500' }, leaseId: next!.id });
    expect(again).toMatchObject({ archived: false, online: true, address: 'r-1:7500', leaseId: next!.id });
    expect(again!.unregisterTime).toBeUndefined();
    expect((await nodes.list({})).nodes).toEqual([again]);
  });
});
