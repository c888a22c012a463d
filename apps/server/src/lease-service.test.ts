import { describe, expect, it } from 'vitest';
import { eventually, sleep, useCoordinationClients } from './test-support/coordination-clients.js';
import { holdLock, requestQueue, requestsOf } from './test-support/lock-holders.js';
import { useTestServers } from './test-support/test-server.js';
import { failsWith } from './test-support/fails-with.js';

describe('jobkeep.v1.LeaseService over gRPC', () => {
  const servers = useTestServers();
  const clientsOf = useCoordinationClients();
  const start = async () => clientsOf((await servers.start({ leaseSweepIntervalMs: 100 })).server.address);

  it('grants, lists, reports and revokes leases, and refuses TTLs outside 2 s to 3600 s', async () => {
    const { leases, locks } = await start();
    const { lease } = await leases.grant({ ttlSeconds: 30n });
    expect(lease).toMatchObject({ id: 1n, ttlSeconds: 30n });
    expect(lease!.expireTime!.seconds - lease!.grantTime!.seconds).toBe(30n);
    for (const ttlSeconds of [0n, 1n, 3601n, -1n]) await expect(leases.grant({ ttlSeconds })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'ttl_seconds'));

    await locks.acquire({ name: '/locks/a', leaseId: lease!.id });
    const ttl = await leases.timeToLive({ leaseId: lease!.id });
    expect(ttl).toMatchObject({ locks: ['/locks/a'], nodes: [] });
    expect(ttl.remainingMs).toBeGreaterThan(20_000n);
    expect(ttl.remainingMs).toBeLessThanOrEqual(30_000n);

    const second = (await leases.grant({ ttlSeconds: 10n })).lease!;
    const page = await leases.list({ pageSize: 1 });
    expect(page.leases.map((item) => item.id)).toEqual([1n]);
    expect((await leases.list({ pageToken: page.nextPageToken })).leases.map((item) => item.id)).toEqual([second.id]);

    await leases.revoke({ leaseId: lease!.id });
    await expect(leases.timeToLive({ leaseId: lease!.id })).rejects.toEqual(failsWith('NOT_FOUND'));
    await expect(leases.revoke({ leaseId: lease!.id })).rejects.toEqual(failsWith('NOT_FOUND'));
    await expect(leases.revoke({ leaseId: 0n })).rejects.toEqual(failsWith('INVALID_ARGUMENT'));
    expect((await locks.get({ name: '/locks/a' })).lock).toMatchObject({ holderLeaseId: 0n, fencingToken: 0n });
    // Ids come from an AUTOINCREMENT table: a revoked lease's id is never handed out again.
    expect((await leases.grant({ ttlSeconds: 10n })).lease!.id).toBe(3n);
  });

  it('keeps a lease alive through its KeepAlive stream, which ends with NOT_FOUND once the lease is gone', async () => {
    const { leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/kept', 2);
    const queue = requestQueue<{ leaseId: bigint }>();
    const responses = leases.keepAlive(queue.requests)[Symbol.asyncIterator]();
    // More than one and a half TTLs of keep-alives: the lock stays held throughout.
    for (let i = 0; i < 8; i++) {
      queue.send({ leaseId: held.leaseId });
      const { value } = await responses.next();
      expect(value).toMatchObject({ leaseId: held.leaseId, ttlSeconds: 2n });
      await sleep(400);
    }
    expect((await locks.get({ name: '/locks/kept' })).lock).toMatchObject({ holderLeaseId: held.leaseId, fencingToken: held.fencingToken });

    await leases.revoke({ leaseId: held.leaseId });
    queue.send({ leaseId: held.leaseId });
    await expect(responses.next()).rejects.toEqual(failsWith('NOT_FOUND', `lease ${held.leaseId}`));
  });

  it('takes the lock from a holder that stops keeping its lease alive, once its TTL passes', async () => {
    const { leases, locks } = await start();
    const held = await holdLock({ leases, locks }, '/locks/abandoned', 2);
    const started = Date.now();
    await eventually(async () => (await locks.get({ name: '/locks/abandoned' })).lock!.holderLeaseId === 0n, 10_000);
    // Not before its TTL: the sweeper ends a lease only once it has expired.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    await expect(leases.timeToLive({ leaseId: held.leaseId })).rejects.toEqual(failsWith('NOT_FOUND'));
    await expect(locks.release({ name: '/locks/abandoned', leaseId: held.leaseId, fencingToken: held.fencingToken })).rejects.toEqual(
      failsWith('FAILED_PRECONDITION'),
    );
    const responses = leases.keepAlive(requestsOf({ leaseId: held.leaseId }));
    await expect((async () => { for await (const _ of responses) { /* none */ } })()).rejects.toEqual(failsWith('NOT_FOUND'));
  });
});
