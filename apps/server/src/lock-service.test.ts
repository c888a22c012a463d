import { LockService, createTypedClient, type TypedClient } from '@jobkeep/api';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { DRAIN_LOCK } from '@jobkeep/store';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, sleep, useCoordinationClients } from './test-support/coordination-clients.js';
import { holdLock, requestQueue } from './test-support/lock-holders.js';
import { startTcpProxy } from './test-support/tcp-proxy.js';
import { useTestServers } from './test-support/test-server.js';
import { failsWith } from './test-support/fails-with.js';

describe('jobkeep.v1.LockService over gRPC', () => {
  const servers = useTestServers();
  const clientsOf = useCoordinationClients();
  const extraClients: TypedClient<typeof LockService>[] = [];
  afterEach(() => {
    for (const client of extraClients.splice(0)) client.close();
  });
  const start = async () => {
    const { server } = await servers.start({ leaseSweepIntervalMs: 100 });
    return { address: server.address, ...clientsOf(server.address) };
  };
  const newLockClient = (address: string) => {
    const client = createTypedClient(LockService, address, { defaultDeadlineMs: 10_000 });
    extraClients.push(client);
    return client;
  };

  it('serves 50 contending clients first in, first out, one holder at a time, with ever larger tokens', async () => {
    const { address, leases, locks } = await start();
    const NAME = '/locks/contended';
    const first = await holdLock({ leases, locks }, NAME);
    const contenders = await Promise.all(
      Array.from({ length: 50 }, async () => ({ client: newLockClient(address), leaseId: (await leases.grant({ ttlSeconds: 60n })).lease!.id })),
    );
    const grants: bigint[] = [];
    const holdings: { leaseId: bigint; token: bigint; from: number; to: number }[] = [];
    const runs: Promise<void>[] = [];
    for (const [index, { client, leaseId }] of contenders.entries()) {
      runs.push(
        (async () => {
          const { fencingToken } = await client.acquire({ name: NAME, leaseId, wait: true }, { deadlineMs: 60_000 });
          const from = performance.now();
          grants.push(leaseId);
          // The server agrees that this holder, and this token, hold the lock now.
          expect((await client.get({ name: NAME })).lock).toMatchObject({ holderLeaseId: leaseId, fencingToken });
          await sleep(2);
          const to = performance.now();
          holdings.push({ leaseId, token: fencingToken, from, to });
          await client.release({ name: NAME, leaseId, fencingToken });
        })(),
      );
      // Queued one by one, so that the order of the line is known.
      await eventually(async () => (await locks.get({ name: NAME })).lock!.waiterLeaseIds.length === index + 1);
    }
    expect((await locks.get({ name: NAME })).lock!.waiterLeaseIds).toEqual(contenders.map((c) => c.leaseId));

    await locks.release({ name: NAME, leaseId: first.leaseId, fencingToken: first.fencingToken });
    await Promise.all(runs);
    expect(grants).toEqual(contenders.map((c) => c.leaseId));
    expect(holdings.map((h) => h.leaseId)).toEqual(grants);
    for (let i = 1; i < holdings.length; i++) {
      expect(holdings[i]!.from).toBeGreaterThanOrEqual(holdings[i - 1]!.to);
      expect(holdings[i]!.token).toBeGreaterThan(holdings[i - 1]!.token);
    }
    expect(holdings[0]!.token).toBeGreaterThan(first.fencingToken);
    expect((await locks.get({ name: NAME })).lock).toMatchObject({ holderLeaseId: 0n, waiterLeaseIds: [] });
  });

  it('tries once, re-acquires idempotently, refuses bad names and stale releases', async () => {
    const { leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/storage/ark:/13030/x');
    const other = (await leases.grant({ ttlSeconds: 60n })).lease!.id;
    await expect(locks.acquire({ name: '/locks/storage/ark:/13030/x', leaseId: other })).rejects.toEqual(
      failsWith('FAILED_PRECONDITION', `held by lease ${held.leaseId}`),
    );
    const again = await locks.acquire({ name: '/locks/storage/ark:/13030/x', leaseId: held.leaseId });
    expect(again.fencingToken).toBe(held.fencingToken);
    expect(again.lock).toMatchObject({ holderLeaseId: held.leaseId, fencingToken: held.fencingToken, waiterLeaseIds: [] });

    for (const name of ['', 'locks/x', '/locks/', '/locks//x', '/locks/../x', '/locks/./x', '/locks/a b', `/${'x'.repeat(512)}`]) {
      await expect(locks.acquire({ name, leaseId: other })).rejects.toEqual(failsWith('INVALID_ARGUMENT'));
    }
    await expect(locks.acquire({ name: '/locks/y', leaseId: 999n })).rejects.toEqual(failsWith('NOT_FOUND', 'lease 999'));
    await expect(locks.acquire({ name: '/locks/y', leaseId: other, lockDelayMs: 60_001 })).rejects.toEqual(failsWith('INVALID_ARGUMENT'));

    const name = '/locks/storage/ark:/13030/x';
    await expect(locks.release({ name, leaseId: held.leaseId, fencingToken: held.fencingToken + 1n })).rejects.toEqual(failsWith('FAILED_PRECONDITION'));
    // Tokens start at 1: a release with none can never succeed.
    await expect(locks.release({ name, leaseId: held.leaseId, fencingToken: 0n })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'fencing_token is required'));
    await expect(locks.release({ name, leaseId: other, fencingToken: held.fencingToken })).rejects.toEqual(failsWith('FAILED_PRECONDITION'));
    await locks.release({ name, leaseId: held.leaseId, fencingToken: held.fencingToken });
    await expect(locks.release({ name, leaseId: held.leaseId, fencingToken: held.fencingToken })).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'free'));

    // One counter for every lock: a token on another lock is larger still.
    const next = await locks.acquire({ name: '/locks/another', leaseId: other });
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await expect(locks.get({ name: '/locks/never' })).rejects.toEqual(failsWith('NOT_FOUND'));
    const listed = await locks.list({ prefix: '/locks/storage/' });
    expect(listed.locks.map((lock) => [lock.name, lock.holderLeaseId])).toEqual([['/locks/storage/ark:/13030/x', 0n]]);
  });

  it('honours a waiting Acquire\'s deadlines, leaving no waiter and no holder behind', async () => {
    const { leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/busy');
    const waiter = (await leases.grant({ ttlSeconds: 60n })).lease!.id;
    await expect(locks.acquire({ name: '/locks/busy', leaseId: waiter, wait: true, waitTimeoutMs: 200 })).rejects.toEqual(
      failsWith('DEADLINE_EXCEEDED', '/locks/busy'),
    );
    await expect(locks.acquire({ name: '/locks/busy', leaseId: waiter, wait: true }, { deadlineMs: 300 })).rejects.toEqual(failsWith('DEADLINE_EXCEEDED'));
    await eventually(async () => (await locks.get({ name: '/locks/busy' })).lock!.waiterLeaseIds.length === 0);
    await locks.release({ name: '/locks/busy', leaseId: held.leaseId, fencingToken: held.fencingToken });
    await sleep(100);
    expect((await locks.get({ name: '/locks/busy' })).lock).toMatchObject({ holderLeaseId: 0n, waiterLeaseIds: [] });
    expect((await leases.timeToLive({ leaseId: waiter })).locks).toEqual([]);
  });

  it('takes a client that cancels or disconnects while waiting out of line, and serves the next', async () => {
    const { address, leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/line');
    const [cancelling, disconnecting, patient] = await Promise.all([1, 2, 3].map(async () => (await leases.grant({ ttlSeconds: 60n })).lease!.id));
    const waiters = () => locks.get({ name: '/locks/line' }).then(({ lock }) => lock!.waiterLeaseIds);

    const controller = new AbortController();
    const cancelled = locks.acquire({ name: '/locks/line', leaseId: cancelling!, wait: true }, { signal: controller.signal, deadlineMs: 60_000 });
    await eventually(async () => (await waiters()).length === 1);
    const proxy = await startTcpProxy(address);
    const leaving = newLockClient(proxy.address);
    const disconnected = leaving.acquire({ name: '/locks/line', leaseId: disconnecting!, wait: true }, { deadlineMs: 60_000 });
    await eventually(async () => (await waiters()).length === 2);
    const granted = locks.acquire({ name: '/locks/line', leaseId: patient!, wait: true }, { deadlineMs: 60_000 });
    await eventually(async () => (await waiters()).length === 3);
    expect(await waiters()).toEqual([cancelling, disconnecting, patient]);

    controller.abort();
    await expect(cancelled).rejects.toEqual(failsWith('CANCELLED'));
    proxy.cut(); // the connection drops, as when an agent dies
    await expect(disconnected).rejects.toEqual(failsWith('UNAVAILABLE'));
    await proxy.close();
    await eventually(async () => (await waiters()).length === 1);
    expect(await waiters()).toEqual([patient]);

    await locks.release({ name: '/locks/line', leaseId: held.leaseId, fencingToken: held.fencingToken });
    expect((await granted).lock).toMatchObject({ holderLeaseId: patient, waiterLeaseIds: [] });
  });

  it('releases every lock of a revoked lease, and its waiters proceed', async () => {
    const { leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/one');
    await locks.acquire({ name: '/locks/two', leaseId: held.leaseId });
    const [b, c] = await Promise.all([1, 2].map(async () => (await leases.grant({ ttlSeconds: 60n })).lease!.id));
    const bWaits = locks.acquire({ name: '/locks/one', leaseId: b!, wait: true });
    const cWaits = locks.acquire({ name: '/locks/two', leaseId: c!, wait: true });
    await eventually(async () => (await locks.list({ prefix: '/locks/' })).locks.every((lock) => lock.waiterLeaseIds.length === 1));
    await leases.revoke({ leaseId: held.leaseId });
    expect((await bWaits).lock).toMatchObject({ name: '/locks/one', holderLeaseId: b });
    expect((await cWaits).lock).toMatchObject({ name: '/locks/two', holderLeaseId: c });
  });

  it('keeps a lock whose holder\'s lease expired from everyone for its lock delay, then grants the first waiter', async () => {
    const { leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/delayed', 2, 1_500);
    const waiter = (await leases.grant({ ttlSeconds: 60n })).lease!.id;
    const waits = locks.acquire({ name: '/locks/delayed', leaseId: waiter, wait: true }, { deadlineMs: 30_000 });
    await eventually(async () => (await locks.get({ name: '/locks/delayed' })).lock!.holderLeaseId === 0n, 10_000);
    const { lock } = await locks.get({ name: '/locks/delayed' });
    expect(lock).toMatchObject({ holderLeaseId: 0n, fencingToken: 0n, waiterLeaseIds: [waiter] });
    const availableMs = timestampMs(lock!.availableTime!);
    const other = (await leases.grant({ ttlSeconds: 60n })).lease!.id;
    await expect(locks.acquire({ name: '/locks/delayed', leaseId: other })).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'lock delay'));

    const granted = await waits;
    expect(granted.lock).toMatchObject({ holderLeaseId: waiter, waiterLeaseIds: [] });
    expect(timestampMs(granted.lock!.acquireTime!)).toBeGreaterThanOrEqual(availableMs);
    expect(granted.fencingToken).toBeGreaterThan(held.fencingToken);
  });

  it('lets ForceRelease take a lock from its holder and give it to the next waiter', async () => {
    const { leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/stuck');
    const waiter = (await leases.grant({ ttlSeconds: 60n })).lease!.id;
    const waits = locks.acquire({ name: '/locks/stuck', leaseId: waiter, wait: true });
    await eventually(async () => (await locks.get({ name: '/locks/stuck' })).lock!.waiterLeaseIds.length === 1);
    await locks.forceRelease({ name: '/locks/stuck' });
    expect((await waits).lock!.holderLeaseId).toBe(waiter);
    await expect(locks.release({ name: '/locks/stuck', leaseId: held.leaseId, fencingToken: held.fencingToken })).rejects.toEqual(failsWith('FAILED_PRECONDITION'));
    await expect(locks.forceRelease({ name: '/locks/none' })).rejects.toEqual(failsWith('NOT_FOUND'));
  });

  it('keeps lock names under /jobkeep/ for the server: clients see them but cannot take or release them, and drains still run', async () => {
    const { server, client } = await servers.start({ leaseSweepIntervalMs: 100 });
    const { leases, locks } = clientsOf(server.address);
    const leaseId = (await leases.grant({ ttlSeconds: 60n })).lease!.id;
    const reserved = (name: string) => failsWith('INVALID_ARGUMENT', 'reserved for the server', name);
    for (const name of [DRAIN_LOCK, '/jobkeep/anything']) {
      await expect(locks.acquire({ name, leaseId })).rejects.toEqual(reserved(name));
      await expect(locks.acquire({ name, leaseId, wait: true })).rejects.toEqual(reserved(name));
      await expect(locks.release({ name, leaseId, fencingToken: 1n })).rejects.toEqual(reserved(name));
      await expect(locks.forceRelease({ name })).rejects.toEqual(reserved(name));
    }
    // Only the prefix with its slash is reserved.
    expect((await locks.acquire({ name: '/jobkeeper/x', leaseId })).lock!.holderLeaseId).toBe(leaseId);

    // The drainer takes its lock through the store, in process, as the server does.
    const lease = await server.storage.leaseStore.grant(60);
    const held = await server.storage.lockStore.acquire({ name: DRAIN_LOCK, leaseId: lease.id });
    const holding = { holderLeaseId: BigInt(lease.id), fencingToken: BigInt(held.fencingToken) };
    expect((await locks.get({ name: DRAIN_LOCK })).lock).toMatchObject(holding);
    expect((await locks.list({ prefix: '/jobkeep/' })).locks.map((lock) => lock.name)).toEqual([DRAIN_LOCK]);
    // Knowing the holder and its token from Get is not enough to take the lock away.
    await expect(locks.release({ name: DRAIN_LOCK, leaseId: holding.holderLeaseId, fencingToken: holding.fencingToken })).rejects.toEqual(reserved(DRAIN_LOCK));
    await expect(locks.forceRelease({ name: DRAIN_LOCK })).rejects.toEqual(reserved(DRAIN_LOCK));
    expect((await locks.get({ name: DRAIN_LOCK })).lock).toMatchObject(holding);
    await server.storage.leaseStore.revoke(lease.id);

    await client.createJob({ nodeId: 'old-director', job: { name: 'moving' } });
    expect(await server.storage.admin.drainNode('old-director', 'new-director')).toMatchObject({ moved: 1, retired: true });
  });

  it('lets at most --max-lock-waiters wait in one lock\'s line; one more is RESOURCE_EXHAUSTED until a waiter leaves', async () => {
    const { server } = await servers.start({ maxLockWaiters: 2 });
    const { leases, locks } = clientsOf(server.address);
    const name = '/locks/crowded';
    const held = await holdLock({ leases, locks }, name);
    const [first, second, third] = await Promise.all([1, 2, 3].map(async () => (await leases.grant({ ttlSeconds: 60n })).lease!.id));
    const leaves = new AbortController();
    const firstWaits = locks.acquire({ name, leaseId: first!, wait: true }, { deadlineMs: 60_000, signal: leaves.signal });
    const secondWaits = locks.acquire({ name, leaseId: second!, wait: true }, { deadlineMs: 60_000 });
    await eventually(async () => (await locks.get({ name })).lock!.waiterLeaseIds.length === 2);

    await expect(locks.acquire({ name, leaseId: third!, wait: true })).rejects.toEqual(
      failsWith('RESOURCE_EXHAUSTED', "lock /locks/crowded already has 2 waiters in line, the most one lock may have (the server's --max-lock-waiters); try again later"),
    );
    expect((await locks.get({ name })).lock!.waiterLeaseIds).toEqual([first, second]);

    leaves.abort();
    await expect(firstWaits).rejects.toEqual(failsWith('CANCELLED'));
    await eventually(async () => (await locks.get({ name })).lock!.waiterLeaseIds.length === 1);
    const thirdWaits = locks.acquire({ name, leaseId: third!, wait: true }, { deadlineMs: 60_000 });
    await eventually(async () => (await locks.get({ name })).lock!.waiterLeaseIds.length === 2);
    await locks.release({ name, leaseId: held.leaseId, fencingToken: held.fencingToken });
    const granted = await secondWaits;
    await locks.release({ name, leaseId: second!, fencingToken: granted.fencingToken });
    expect((await thirdWaits).lock!.holderLeaseId).toBe(third);
  });

  it('ends waiting Acquires and open KeepAlive streams with UNAVAILABLE when the server shuts down', async () => {
    const { server } = await servers.start({ leaseSweepIntervalMs: 100, shutdownGraceMs: 30_000 });
    const { leases, locks } = clientsOf(server.address);
    const held = await holdLock({ leases, locks }, '/locks/shutdown');
    const waiter = (await leases.grant({ ttlSeconds: 60n })).lease!.id;
    const waits = locks.acquire({ name: '/locks/shutdown', leaseId: waiter, wait: true }, { deadlineMs: 60_000 });
    await eventually(async () => (await locks.get({ name: '/locks/shutdown' })).lock!.waiterLeaseIds.length === 1);
    const queue = requestQueue<{ leaseId: bigint }>();
    const responses = leases.keepAlive(queue.requests)[Symbol.asyncIterator]();
    queue.send({ leaseId: held.leaseId });
    await responses.next();

    const waitEnds = expect(waits).rejects.toEqual(failsWith('UNAVAILABLE', 'shutting down'));
    const streamEnds = expect(responses.next()).rejects.toEqual(failsWith('UNAVAILABLE', 'shutting down'));
    // Well inside the 30 s grace period: nothing waited for it.
    const started = Date.now();
    await server.shutdown();
    expect(Date.now() - started).toBeLessThan(15_000);
    await waitEnds;
    await streamEnds;
  });
});
