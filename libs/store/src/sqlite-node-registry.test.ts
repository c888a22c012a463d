import { describe, expect, it } from 'vitest';
import { buildNodeListQuery, type CheckedNodeQuery } from './node-reads.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

describe('SqliteNodeRegistry', () => {
  const temp = useTempStorage();
  let time = 1_700_000_000_000;
  const open = async () => {
    const storage = temp.open({ clock: () => time });
    return { storage, registry: storage.nodeRegistry, lease: (await storage.leaseStore.grant(30)).id };
  };

  it('registers a node and gets it back as stored, online under its lease', async () => {
    const { registry, lease } = await open();
    const node = await registry.register({
      id: 'compute-1',
      kind: 'compute',
      address: 'worker-7.internal:7421',
      labels: { zone: 'eu-1', gpu: 'a100' },
      capacity: { cpuMillis: 8000, memoryBytes: 32 * 2 ** 30, gpus: 2, slots: 4 },
      leaseId: lease,
    });
    expect(node).toEqual({
      id: 'compute-1',
      kind: 'compute',
      address: 'worker-7.internal:7421',
      labels: { gpu: 'a100', zone: 'eu-1' },
      capacity: { cpuMillis: 8000, memoryBytes: 32 * 2 ** 30, diskBytes: 0, gpus: 2, slots: 4 },
      leaseId: lease,
      online: true,
      archived: false,
      registerTime: time,
      unregisterTime: undefined,
    });
    expect(await registry.get('compute-1')).toEqual(node);
    await rejection(registry.get('compute-2'), 'NOT_FOUND');
  });

  it('checks the registration before writing it', async () => {
    const { registry, lease } = await open();
    const valid = { id: 'n-1', kind: 'compute' as const, address: '10.0.0.1:7421', leaseId: lease };
    expect(await rejection(registry.register({ ...valid, id: '../etc' }), 'INVALID_ARGUMENT')).toContain('node_id');
    expect(await rejection(registry.register({ ...valid, kind: 'admin' as 'compute' }), 'INVALID_ARGUMENT')).toContain('kind');
    for (const address of ['', 'host', 'host:0', 'host:70000', 'a b:1', ':80']) {
      expect(await rejection(registry.register({ ...valid, address }), 'INVALID_ARGUMENT')).toContain('address');
    }
    await registry.register({ ...valid, address: '[::1]:7421' });
    expect(await rejection(registry.register({ ...valid, labels: { '-bad': 'x' } }), 'INVALID_ARGUMENT')).toContain('label key');
    expect(await rejection(registry.register({ ...valid, capacity: { gpus: -1 } }), 'INVALID_ARGUMENT')).toContain('capacity.gpus');
    expect(await rejection(registry.register({ ...valid, capacity: { slots: 1.5 } }), 'INVALID_ARGUMENT')).toContain('capacity.slots');
    expect(await rejection(registry.register({ ...valid, leaseId: 0 }), 'INVALID_ARGUMENT')).toContain('lease_id');
    expect(await rejection(registry.register({ ...valid, leaseId: 999 }), 'NOT_FOUND')).toContain('lease 999');
  });

  it('refuses a lease that has expired even if it is not swept yet', async () => {
    const { storage, registry } = await open();
    const expired = (await storage.leaseStore.grant(2)).id;
    time += 2_000; // expired, but no sweep has ended it yet
    expect(await rejection(registry.register({ id: 'n-1', kind: 'requester', address: 'r:1', leaseId: expired }), 'FAILED_PRECONDITION')).toContain(
      `lease ${expired} expired`,
    );
    await rejection(registry.get('n-1'), 'NOT_FOUND');
  });

  it('refuses a node online under another live lease, keeping its registration, and lets it go once that lease ends', async () => {
    const { storage, registry, lease } = await open();
    const first = await registry.register({ id: 'n-1', kind: 'compute', address: 'c:1', leaseId: lease });
    expect(await registry.register({ id: 'n-1', kind: 'compute', address: 'c:1', labels: { again: 'yes' }, leaseId: lease })).toMatchObject({
      leaseId: lease,
      labels: { again: 'yes' },
    });
    time += 1_000;
    const second = (await storage.leaseStore.grant(30)).id;
    const message = await rejection(registry.register({ id: 'n-1', kind: 'compute', address: 'c:2', leaseId: second }), 'FAILED_PRECONDITION');
    expect(message).toContain(`node n-1 is online under lease ${lease} until ${new Date(first.registerTime + 30_000).toISOString()}`);
    expect(message).toContain(`revoke lease ${lease}`);
    expect(await registry.get('n-1')).toMatchObject({ address: 'c:1', leaseId: lease, online: true, labels: { again: 'yes' } });

    // Expired but not yet swept: the node is offline, and free.
    time += 29_000;
    expect(await registry.register({ id: 'n-1', kind: 'compute', address: 'c:2', leaseId: second })).toMatchObject({ address: 'c:2', leaseId: second, online: true });
    // Revoked: free at once.
    const third = (await storage.leaseStore.grant(30)).id;
    await rejection(registry.register({ id: 'n-1', kind: 'compute', address: 'c:3', leaseId: third }), 'FAILED_PRECONDITION');
    await storage.leaseStore.revoke(second);
    expect(await registry.register({ id: 'n-1', kind: 'compute', address: 'c:3', leaseId: third })).toMatchObject({ leaseId: third, online: true });
    // Archived: free at once, though its lease lives.
    await registry.unregister('n-1');
    const fourth = (await storage.leaseStore.grant(30)).id;
    expect(await registry.register({ id: 'n-1', kind: 'compute', address: 'c:4', leaseId: fourth })).toMatchObject({ leaseId: fourth, online: true });
  });

  it('takes a node offline when its lease expires, and keeps it offline once the lease is deleted', async () => {
    const { storage, registry } = await open();
    const lease = (await storage.leaseStore.grant(2)).id;
    await registry.register({ id: 'n-1', kind: 'compute', address: 'c:1', leaseId: lease });
    expect((await registry.list({ online: true })).items.map((node) => node.id)).toEqual(['n-1']);
    time += 2_000;
    expect(await registry.get('n-1')).toMatchObject({ online: false, leaseId: lease, archived: false });
    expect((await registry.list({ online: true })).items).toEqual([]);
    expect((await registry.list({ online: false })).items.map((node) => node.id)).toEqual(['n-1']);
    expect(await storage.leaseStore.expireDue()).toEqual([lease]);
    expect(await registry.get('n-1')).toMatchObject({ online: false, leaseId: 0 });
    expect((await registry.list({ online: false })).items.map((node) => node.id)).toEqual(['n-1']);
  });

  it('archives on unregister and keeps the record; registering again un-archives it under the new lease', async () => {
    const { storage, registry, lease } = await open();
    const registered = await registry.register({ id: 'n-1', kind: 'compute', address: 'c:1', labels: { zone: 'a' }, leaseId: lease });
    time += 1_000;
    const archived = await registry.unregister('n-1');
    expect(archived).toEqual({ ...registered, online: false, archived: true, unregisterTime: time });
    time += 1_000;
    expect(await registry.unregister('n-1')).toEqual(archived); // the first unregister time stays
    expect(await registry.get('n-1')).toEqual(archived);
    expect((await registry.list({})).items).toEqual([]);
    expect((await registry.list({ includeArchived: true })).items).toEqual([archived]);
    await rejection(registry.unregister('n-2'), 'NOT_FOUND');

    const newLease = (await storage.leaseStore.grant(30)).id;
    const again = await registry.register({ id: 'n-1', kind: 'compute', address: 'c:2', labels: { zone: 'b' }, leaseId: newLease });
    expect(again).toMatchObject({ address: 'c:2', labels: { zone: 'b' }, leaseId: newLease, online: true, archived: false, registerTime: time, unregisterTime: undefined });
    expect((await registry.list({ labelSelector: { zone: 'a' } })).items).toEqual([]);
    expect((await registry.list({ labelSelector: { zone: 'b' } })).items).toEqual([again]);
  });

  it('lists by kind, labels and online state, in id order, a page at a time', async () => {
    const { storage, registry, lease } = await open();
    const shortLease = (await storage.leaseStore.grant(2)).id;
    for (let i = 0; i < 7; i++) {
      await registry.register({
        id: `node-${i}`,
        kind: i % 2 === 0 ? 'compute' : 'requester',
        address: `host-${i}:7421`,
        labels: { zone: i < 4 ? 'eu' : 'us', ...(i % 3 === 0 ? { gpu: 'yes' } : {}) },
        leaseId: i === 6 ? shortLease : lease,
      });
    }
    await registry.unregister('node-0');
    time += 2_000;
    const ids = async (query: Parameters<typeof registry.list>[0]) => {
      const found: string[] = [];
      let pageToken = '';
      do {
        const page = await registry.list({ ...query, pageSize: 2, pageToken });
        found.push(...page.items.map((node) => node.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return found;
    };
    expect(await ids({})).toEqual(['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6']);
    expect(await ids({ includeArchived: true })).toEqual(['node-0', 'node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6']);
    expect(await ids({ kind: 'compute' })).toEqual(['node-2', 'node-4', 'node-6']);
    expect(await ids({ kind: 'compute', online: true })).toEqual(['node-2', 'node-4']);
    expect(await ids({ online: false, includeArchived: true })).toEqual(['node-0', 'node-6']);
    expect(await ids({ labelSelector: { zone: 'eu', gpu: 'yes' }, includeArchived: true })).toEqual(['node-0', 'node-3']);
    expect(await ids({ labelSelector: { zone: 'us' }, kind: 'requester' })).toEqual(['node-5']);

    const first = await registry.list({ kind: 'compute', pageSize: 1 });
    expect(await rejection(registry.list({ kind: 'requester', pageSize: 1, pageToken: first.nextPageToken }), 'INVALID_ARGUMENT')).toContain('page_token');
  });

  it('serves the list filters from indexes', async () => {
    const { storage } = await open();
    const plan = (query: Partial<CheckedNodeQuery>) => {
      const checked: CheckedNodeQuery = { kind: '', online: undefined, labels: [], includeArchived: false, pageSize: 10, ...query };
      const { sql, params } = buildNodeListQuery(checked, { after: [0, 'node-1'] }, time);
      const rows = storage.coordination.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
      return rows.map((row) => row.detail).join('\n');
    };
    expect(plan({ kind: 'compute', online: true })).toMatch(/SEARCH n USING INDEX nodes_by_kind/);
    expect(plan({ labels: [['zone', 'eu']] })).toMatch(/node_labels_by_pair/);
    expect(plan({ includeArchived: true })).not.toMatch(/TEMP B-TREE/);
  });
});
