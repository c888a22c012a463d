import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

describe('SqliteLeaseStore', () => {
  const temp = useTempStorage();

  it('grants leases with ids never reused, renews them to their full TTL and reports what is attached', async () => {
    let now = 1_000_000;
    const { leaseStore, lockStore } = temp.open({ clock: () => now });
    const first = await leaseStore.grant(10);
    expect(first).toEqual({ id: 1, ttlSeconds: 10, grantTime: now, expireTime: now + 10_000 });
    await leaseStore.revoke(first.id);
    const second = await leaseStore.grant(2);
    expect(second.id).toBe(2);

    now += 1_500;
    expect(await leaseStore.keepAlive(second.id)).toMatchObject({ id: 2, expireTime: now + 2_000 });
    await lockStore.acquire({ name: '/locks/b', leaseId: second.id });
    await lockStore.acquire({ name: '/locks/a', leaseId: second.id });
    now += 500;
    expect(await leaseStore.timeToLive(second.id)).toEqual({
      lease: { id: 2, ttlSeconds: 2, grantTime: 1_000_000, expireTime: now + 1_500 },
      remainingMs: 1_500,
      locks: ['/locks/a', '/locks/b'],
      nodes: [],
    });
  });

  it('refuses TTLs outside 2 s to 3600 s and unknown, expired or revoked leases', async () => {
    let now = 1_000_000;
    const { leaseStore } = temp.open({ clock: () => now });
    for (const ttl of [0, 1, 3601, 2.5, -5]) await rejection(leaseStore.grant(ttl), 'INVALID_ARGUMENT');
    expect((await leaseStore.grant(3600)).ttlSeconds).toBe(3600);
    await rejection(leaseStore.keepAlive(0), 'INVALID_ARGUMENT');
    await rejection(leaseStore.keepAlive(99), 'NOT_FOUND');
    const lease = await leaseStore.grant(2);
    now += 2_000;
    await rejection(leaseStore.keepAlive(lease.id), 'NOT_FOUND');
    await rejection(leaseStore.timeToLive(lease.id), 'NOT_FOUND');
    await rejection(leaseStore.revoke(lease.id), 'NOT_FOUND');
    await rejection(leaseStore.revoke(lease.id), 'NOT_FOUND');
  });

  it('expires due leases, releasing their locks with their lock delay and taking their nodes offline', async () => {
    let now = 1_000_000;
    const storage = temp.open({ clock: () => now });
    const { leaseStore, lockStore } = storage;
    const dying = await leaseStore.grant(2);
    const living = await leaseStore.grant(60);
    await lockStore.acquire({ name: '/locks/delayed', leaseId: dying.id, lockDelayMs: 5_000 });
    await lockStore.acquire({ name: '/locks/plain', leaseId: dying.id });
    storage.coordination.db
      .prepare("INSERT INTO nodes (id, kind, address, labels, capacity, lease_id, register_time) VALUES ('n1', 'compute', 'x:1', '{}', '{}', ?, 0)")
      .run(dying.id);
    expect((await leaseStore.timeToLive(dying.id)).nodes).toEqual(['n1']);
    expect(leaseStore.nextExpiry()).toBe(dying.expireTime);

    now += 2_000;
    expect(await leaseStore.expireDue()).toEqual([dying.id]);
    expect(await leaseStore.expireDue()).toEqual([]);
    expect(await lockStore.get('/locks/delayed')).toMatchObject({ holderLeaseId: null, fencingToken: 0, availableTime: now + 5_000 });
    expect(await lockStore.get('/locks/plain')).toMatchObject({ holderLeaseId: null, availableTime: undefined });
    await rejection(lockStore.acquire({ name: '/locks/delayed', leaseId: living.id }), 'FAILED_PRECONDITION');
    expect((await lockStore.acquire({ name: '/locks/plain', leaseId: living.id })).fencingToken).toBe(3);
    expect(storage.coordination.db.prepare("SELECT lease_id FROM nodes WHERE id = 'n1'").get()).toEqual({ lease_id: null });
    expect((await leaseStore.list({})).items.map((lease) => lease.id)).toEqual([living.id]);
  });

  it('lists live leases in keyset pages', async () => {
    const { leaseStore } = temp.open();
    for (let i = 0; i < 5; i++) await leaseStore.grant(60);
    await leaseStore.revoke(3);
    const first = await leaseStore.list({ pageSize: 2 });
    const second = await leaseStore.list({ pageSize: 2, pageToken: first.nextPageToken });
    expect([first, second].map((page) => page.items.map((lease) => lease.id))).toEqual([[1, 2], [4, 5]]);
    expect(second.nextPageToken).toBe('');
    await rejection(leaseStore.list({ pageSize: 1001 }), 'INVALID_ARGUMENT');
  });

  it('gives every lease a fresh TTL when storage opens again, keeping its locks and tokens', async () => {
    let now = 1_000_000;
    const first = temp.open({ clock: () => now });
    const lease = await first.leaseStore.grant(30);
    const { fencingToken } = await first.lockStore.acquire({ name: '/locks/kept', leaseId: lease.id });
    first.close();

    now += 3_600_000; // down for an hour: far past the lease's expiry
    const second = temp.open({ clock: () => now });
    expect(await second.leaseStore.expireDue()).toEqual([]);
    expect(await second.leaseStore.timeToLive(lease.id)).toMatchObject({ remainingMs: 30_000, locks: ['/locks/kept'] });
    expect(await second.lockStore.get('/locks/kept')).toMatchObject({ holderLeaseId: lease.id, fencingToken });
    const db = new Database(path.join(temp.dir(), 'coordination.db'), { readonly: true });
    expect(db.prepare('SELECT expire_time FROM leases').get()).toEqual({ expire_time: now + 30_000 });
    db.close();
  });

  it("keeps whose each lease is, tells an ended lease from an id never granted, and takes older leases as anyone's", async () => {
    const first = temp.open();
    const anyones = await first.leaseStore.grant(30);
    const nodeA = await first.leaseStore.grant(30, { kind: 'token', nodeIds: ['node-a'] });
    const unscoped = await first.leaseStore.grant(30, { kind: 'token', nodeIds: [] });
    const ended = await first.leaseStore.grant(30, { kind: 'token', nodeIds: ['node-b'] });
    await first.leaseStore.revoke(ended.id);
    first.close();

    // A lease granted before owners were recorded has none, like one granted without tokens.
    const db = new Database(path.join(temp.dir(), 'coordination.db'));
    const older = Number(db.prepare('INSERT INTO leases (ttl_ms, grant_time, expire_time) VALUES (30000, 0, 0) RETURNING id').pluck().get());
    expect(() => db.prepare(`UPDATE leases SET owner_node_ids = '{}' WHERE id = ?`).run(older)).toThrow('CHECK constraint failed');
    db.close();

    const second = temp.open();
    expect(await second.leaseStore.ownerOf(anyones.id)).toEqual({ kind: 'anyone' });
    expect(await second.leaseStore.ownerOf(nodeA.id)).toEqual({ kind: 'token', nodeIds: ['node-a'] });
    expect(await second.leaseStore.ownerOf(unscoped.id)).toEqual({ kind: 'token', nodeIds: [] });
    expect(await second.leaseStore.ownerOf(older)).toEqual({ kind: 'anyone' });
    expect(await second.leaseStore.ownerOf(ended.id)).toBe('ended');
    expect(await second.leaseStore.ownerOf(older + 1)).toBeUndefined();
    await rejection(second.leaseStore.ownerOf(0), 'INVALID_ARGUMENT');
  });
});
