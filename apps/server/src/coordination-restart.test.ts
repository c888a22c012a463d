import { describe, expect, it } from 'vitest';
import { sleep, useCoordinationClients } from './test-support/coordination-clients.js';
import { holdLock, requestsOf } from './test-support/lock-holders.js';
import { useServerProcesses } from './test-support/server-processes.js';

describe('leases and locks across a server restart', () => {
  const processes = useServerProcesses();
  const clientsOf = useCoordinationClients();
  const launch = (dataDir: string) =>
    processes.launch([], { JOBKEEP_LISTEN: '127.0.0.1:0', JOBKEEP_DATA_DIR: dataDir, JOBKEEP_LEASE_SWEEP_INTERVAL_MS: '100' });

  it('keeps every lease, with a fresh TTL from the restart, and every lock with its holder and token', async () => {
    const dataDir = processes.tempDir();
    const first = launch(dataDir);
    const before = clientsOf(await first.address);
    const held = await holdLock(before, '/locks/survivor', 3);
    const waiting = (await before.leases.grant({ ttlSeconds: 60n })).lease!.id;
    // A crash, not a clean stop: what was acknowledged must be on disk.
    first.child.kill('SIGKILL');
    await first.exited;
    // Down for longer than the lease's TTL: without a fresh TTL it would expire at once.
    await sleep(3_500);

    const second = launch(dataDir);
    const after = clientsOf(await second.address);
    const ttl = await after.leases.timeToLive({ leaseId: held.leaseId });
    expect(ttl.locks).toEqual(['/locks/survivor']);
    expect(ttl.remainingMs).toBeGreaterThan(1_000n);
    expect(ttl.remainingMs).toBeLessThanOrEqual(3_000n);
    expect((await after.locks.get({ name: '/locks/survivor' })).lock).toMatchObject({
      holderLeaseId: held.leaseId,
      fencingToken: held.fencingToken,
      waiterLeaseIds: [],
    });
    // The holder carries on: it can renew its lease and release with its old token.
    const renewed = [];
    for await (const response of after.leases.keepAlive(requestsOf({ leaseId: held.leaseId }))) renewed.push(response);
    expect(renewed).toHaveLength(1);
    expect(renewed[0]).toMatchObject({ leaseId: held.leaseId, ttlSeconds: 3n });
    await after.locks.release({ name: '/locks/survivor', leaseId: held.leaseId, fencingToken: held.fencingToken });
    // The counter survived too: the next token is larger than any before the restart.
    const next = await after.locks.acquire({ name: '/locks/survivor', leaseId: waiting });
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
