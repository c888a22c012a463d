import { describe, expect, it } from 'vitest';
import { readLockHolding } from './lock-holding.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

/** Resolves once the event loop has run everything already queued. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('LockManager', () => {
  const temp = useTempStorage();
  const open = async (clock?: () => number) => {
    const storage = temp.open(clock === undefined ? {} : { clock });
    const leases = await Promise.all([1, 2, 3, 4].map(() => storage.leaseStore.grant(60)));
    return { ...storage, ids: leases.map((lease) => lease.id) };
  };

  it('hands out tokens from one counter for every lock, and lets the holder re-acquire idempotently', async () => {
    const { lockStore, coordination, ids } = await open();
    const [a, b] = ids as [number, number];
    const first = await lockStore.acquire({ name: '/locks/one', leaseId: a });
    const second = await lockStore.acquire({ name: '/locks/two', leaseId: b });
    expect([first.fencingToken, second.fencingToken]).toEqual([1, 2]);
    expect(await lockStore.acquire({ name: '/locks/one', leaseId: a, lockDelayMs: 500 })).toEqual(first);
    expect(readLockHolding(coordination, '/locks/one')).toEqual({ holderLeaseId: a, fencingToken: 1 });
    expect(readLockHolding(coordination, '/locks/never')).toBeUndefined();

    await lockStore.release('/locks/one', a, 1);
    expect(readLockHolding(coordination, '/locks/one')).toEqual({ holderLeaseId: null, fencingToken: 1 });
    expect(await lockStore.get('/locks/one')).toMatchObject({ holderLeaseId: null, fencingToken: 0, acquireTime: undefined });
    expect((await lockStore.acquire({ name: '/locks/one', leaseId: b })).fencingToken).toBe(3);
  });

  it('refuses a held lock at once when not waiting, naming its holder, and a stale release', async () => {
    const { lockStore, ids } = await open();
    const [a, b] = ids as [number, number];
    const { fencingToken } = await lockStore.acquire({ name: '/locks/x', leaseId: a });
    expect(await rejection(lockStore.acquire({ name: '/locks/x', leaseId: b }), 'FAILED_PRECONDITION')).toContain(`held by lease ${a}`);
    await rejection(lockStore.acquire({ name: '/locks/x', leaseId: 999 }), 'NOT_FOUND');
    await rejection(lockStore.acquire({ name: 'locks/x', leaseId: a }), 'INVALID_ARGUMENT');
    await rejection(lockStore.acquire({ name: '/locks/x', leaseId: a, lockDelayMs: 60_001 }), 'INVALID_ARGUMENT');
    await rejection(lockStore.release('/locks/x', b, fencingToken), 'FAILED_PRECONDITION');
    await rejection(lockStore.release('/locks/x', a, fencingToken + 1), 'FAILED_PRECONDITION');
    await rejection(lockStore.release('/locks/none', a, 1), 'NOT_FOUND');
    await lockStore.release('/locks/x', a, fencingToken);
    await rejection(lockStore.release('/locks/x', a, fencingToken), 'FAILED_PRECONDITION');
    await rejection(lockStore.get('/locks/none'), 'NOT_FOUND');
  });

  it('serves waiters first in, first out, one per release, and drops waiters that give up', async () => {
    const { lockStore, leaseStore, ids } = await open();
    const [a, b, c, d] = ids as [number, number, number, number];
    const held = await lockStore.acquire({ name: '/locks/q', leaseId: a });
    const order: number[] = [];
    const waitFor = (leaseId: number, extra: object = {}) =>
      lockStore.acquire({ name: '/locks/q', leaseId, wait: true, ...extra }).then((got) => (order.push(leaseId), got));
    const controller = new AbortController();
    const bWaits = waitFor(b);
    const cGivesUp = waitFor(c, { signal: controller.signal });
    const dWaits = waitFor(d);
    expect((await lockStore.get('/locks/q')).waiterLeaseIds).toEqual([b, c, d]);
    await rejection(lockStore.acquire({ name: '/locks/q', leaseId: d }), 'FAILED_PRECONDITION');

    controller.abort();
    await rejection(cGivesUp, 'CANCELLED');
    expect((await lockStore.get('/locks/q')).waiterLeaseIds).toEqual([b, d]);

    await lockStore.release('/locks/q', a, held.fencingToken);
    const bGot = await bWaits;
    await settle();
    expect(order).toEqual([b]);
    expect(bGot.lock).toMatchObject({ holderLeaseId: b, waiterLeaseIds: [d] });
    expect(bGot.fencingToken).toBeGreaterThan(held.fencingToken);

    await leaseStore.revoke(b); // a lease that ends releases its locks to the next in line
    expect((await dWaits).lock.holderLeaseId).toBe(d);
    expect(order).toEqual([b, d]);
  });

  it('gives up after wait_timeout_ms, leaving nothing behind', async () => {
    const { lockStore, ids } = await open();
    const [a, b] = ids as [number, number];
    await lockStore.acquire({ name: '/locks/t', leaseId: a });
    await rejection(lockStore.acquire({ name: '/locks/t', leaseId: b, wait: true, waitTimeoutMs: 50 }), 'DEADLINE_EXCEEDED');
    expect(await lockStore.get('/locks/t')).toMatchObject({ holderLeaseId: a, waiterLeaseIds: [] });
  });

  it('fails the waits of a lease that ends, and ends every wait when closed', async () => {
    const storage = await open();
    const { lockStore, leaseStore } = storage;
    const [a, b, c] = storage.ids as [number, number, number];
    await lockStore.acquire({ name: '/locks/w', leaseId: a });
    const bWaits = lockStore.acquire({ name: '/locks/w', leaseId: b, wait: true });
    const cWaits = lockStore.acquire({ name: '/locks/w', leaseId: c, wait: true });
    await leaseStore.revoke(b);
    await rejection(bWaits, 'NOT_FOUND');
    expect((await lockStore.get('/locks/w')).waiterLeaseIds).toEqual([c]);
    storage.stopLockWaits();
    await rejection(cWaits, 'UNAVAILABLE');
    await rejection(lockStore.acquire({ name: '/locks/other', leaseId: a }), 'UNAVAILABLE');
  });

  it('keeps a lock whose lease expired from everyone for its lock delay, then grants it to the first waiter', async () => {
    let now = 1_000_000;
    const { lockStore, leaseStore } = await open(() => now);
    const short = await leaseStore.grant(2);
    const waiter = await leaseStore.grant(60);
    await lockStore.acquire({ name: '/locks/d', leaseId: short.id, lockDelayMs: 200 });
    const waits = lockStore.acquire({ name: '/locks/d', leaseId: waiter.id, wait: true });
    now += 2_000;
    await leaseStore.expireDue();
    expect(await lockStore.get('/locks/d')).toMatchObject({ holderLeaseId: null, availableTime: now + 200, waiterLeaseIds: [waiter.id] });
    await new Promise((resolve) => setTimeout(resolve, 250));
    await settle();
    expect(await lockStore.get('/locks/d')).toMatchObject({ holderLeaseId: null, waiterLeaseIds: [waiter.id] }); // the clock has not moved
    now += 200;
    expect((await waits).lock).toMatchObject({ holderLeaseId: waiter.id, availableTime: undefined });
  });

  it('lists locks by prefix in keyset pages, with holders and waiters', async () => {
    const { lockStore, ids } = await open();
    const [a, b] = ids as [number, number];
    for (const name of ['/locks/queue/a', '/locks/queue/b', '/locks/queue/c', '/locks/other', '/locks/queuez']) {
      await lockStore.acquire({ name, leaseId: a });
    }
    const waits = lockStore.acquire({ name: '/locks/queue/b', leaseId: b, wait: true, waitTimeoutMs: 10_000 });
    const first = await lockStore.list({ prefix: '/locks/queue/', pageSize: 2 });
    const second = await lockStore.list({ prefix: '/locks/queue/', pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.items, ...second.items].map((lock) => [lock.name, lock.holderLeaseId, lock.waiterLeaseIds])).toEqual([
      ['/locks/queue/a', a, []],
      ['/locks/queue/b', a, [b]],
      ['/locks/queue/c', a, []],
    ]);
    expect(second.nextPageToken).toBe('');
    await rejection(lockStore.list({ prefix: '/locks/', pageToken: first.nextPageToken }), 'INVALID_ARGUMENT');
    expect((await lockStore.list({})).items).toHaveLength(5);
    await lockStore.forceRelease('/locks/queue/b');
    expect((await waits).lock.holderLeaseId).toBe(b);
    await rejection(lockStore.forceRelease('/locks/none'), 'NOT_FOUND');
  });
});
