import { createJobStoreClient, createLeaseClient, createLockClient } from '@jobkeep/client';
import { measure, type Measurement } from './measure.js';
import { withJobkeepAndEcho } from './server-process.js';

const WAITERS = 64;

/**
 * Acquire+release through gRPC against the real server: one holder on one lock (uncontended),
 * and 64 holders taking turns on one lock (each Acquire waits in line, FIFO). The baseline is
 * the same two round trips answered by the echo server, which costs gRPC and nothing else.
 */
export function lockBench(scale: number): Promise<Measurement[]> {
  return withJobkeepAndEcho(async ({ jobkeep, echo }) => {
    const leases = createLeaseClient(jobkeep.address);
    const locks = createLockClient(jobkeep.address);
    const echoClient = createJobStoreClient(echo.address);
    const results: Measurement[] = [];

    results.push(
      await measure('baseline: two echo round trips, 1 in flight', { ops: 2000 * scale, warmup: 500, concurrency: 1, serverPid: echo.child.pid! }, async () => {
        await echoClient.getJob({ nodeId: 'n', key: { case: 'id', value: 'a' } });
        await echoClient.getJob({ nodeId: 'n', key: { case: 'id', value: 'b' } });
      }),
    );

    const { lease } = await leases.grant({ ttlSeconds: 600n });
    results.push(
      await measure('acquire+release, uncontended (one holder, one lock)', { ops: 2000 * scale, warmup: 500, concurrency: 1, serverPid: jobkeep.child.pid! }, async () => {
        const { fencingToken } = await locks.acquire({ name: '/bench/uncontended', leaseId: lease!.id });
        await locks.release({ name: '/bench/uncontended', leaseId: lease!.id, fencingToken });
      }),
    );

    // One lease per waiter: a lock is held by a lease, and a lease holds it once.
    const waiterLeases = await Promise.all(Array.from({ length: WAITERS }, () => leases.grant({ ttlSeconds: 600n })));
    // A free list rather than a round robin: no two operations in flight may share a lease.
    const idle = waiterLeases.map(({ lease: waiter }) => waiter!.id);
    results.push(
      await measure(`acquire+release, ${WAITERS} waiters on one lock`, { ops: 2000 * scale, warmup: 500, concurrency: WAITERS, serverPid: jobkeep.child.pid! }, async () => {
        const leaseId = idle.pop()!;
        const { fencingToken } = await locks.acquire({ name: '/bench/contended', leaseId, wait: true }, { deadlineMs: 60_000 });
        await locks.release({ name: '/bench/contended', leaseId, fencingToken });
        idle.push(leaseId);
      }),
    );
    for (const client of [leases, locks, echoClient]) client.close();
    return results;
  });
}
