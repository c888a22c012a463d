import { createLeaseClient, createLockClient, grantLease, withLock, type HeldLock } from '@jobkeep/client';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';

/** The lock helpers of @jobkeep/client against the real server. */
describe('withLock and the lease keeper', () => {
  const servers = useTestServers();
  // Undone last first: leases kept alive are stopped (and revoked) before their clients close.
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  async function start() {
    const { server, client } = await servers.start();
    const clients = { leases: createLeaseClient(server.address), locks: createLockClient(server.address) };
    closers.push(() => clients.leases.close(), () => clients.locks.close());
    return { server, jobs: client, ...clients };
  }

  it('runs holders one at a time with growing fencing tokens, and leaves the lock free and no lease behind', async () => {
    const { leases, locks } = await start();
    const order: string[] = [];
    const tokens: bigint[] = [];
    const run = (who: string) =>
      withLock({ leases, locks }, '/locks/queue/ingest', async (lock: HeldLock) => {
        order.push(`${who}:start`);
        tokens.push(lock.fencingToken);
        await new Promise((resolve) => setTimeout(resolve, 50));
        order.push(`${who}:end`);
        return who;
      });
    expect(await Promise.all([run('a'), run('b'), run('c')])).toEqual(['a', 'b', 'c']);
    // No holding overlaps another.
    for (let i = 0; i < order.length; i += 2) expect(order[i]!.split(':')[0]).toBe(order[i + 1]!.split(':')[0]);
    // Tokens in the order of the holdings: each larger than the one before.
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
    const { lock } = await locks.get({ name: '/locks/queue/ingest' });
    expect(lock?.holderLeaseId).toBe(0n);
    expect((await leases.list({})).leases).toEqual([]);
  });

  it('guards store writes with the token it hands out', async () => {
    const { leases, locks, jobs } = await start();
    const job = await withLock({ leases, locks }, '/locks/jobs', async (lock) =>
      jobs.createJob({ nodeId: 'guarded', job: { name: 'fenced' }, lockGuard: lock.guard }),
    );
    expect(job.job?.name).toBe('fenced');
    // The same token once the lock is gone: refused.
    const stale = await withLock({ leases, locks }, '/locks/jobs', async (lock) => lock.guard);
    await expect(jobs.createJob({ nodeId: 'guarded', job: { name: 'late' }, lockGuard: stale })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('gives up waiting after its timeout with DEADLINE_EXCEEDED, leaving no lease or waiter behind', async () => {
    const { leases, locks } = await start();
    const holder = await grantLease(leases, 30);
    closers.push(() => holder.stop());
    await locks.acquire({ name: '/locks/busy', leaseId: holder.leaseId });
    await expect(withLock({ leases, locks }, '/locks/busy', async () => 'never', { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
    });
    const { lock } = await locks.get({ name: '/locks/busy' });
    expect(lock?.waiterLeaseIds).toEqual([]);
    expect((await leases.list({})).leases.map((lease) => lease.id)).toEqual([holder.leaseId]);
  });

  it('aborts the holder’s signal when its lease is lost', async () => {
    const { leases, locks } = await start();
    const reason = await withLock({ leases, locks }, '/locks/fragile', async (lock) => {
      await leases.revoke({ leaseId: lock.leaseId });
      await new Promise((resolve) => lock.signal.addEventListener('abort', resolve, { once: true }));
      return lock.signal.reason as { code: string };
    });
    expect(reason.code).toBe('NOT_FOUND');
  });

  it('keeps a lease alive well past its TTL', async () => {
    const { leases } = await start();
    const kept = await grantLease(leases, 2);
    closers.push(() => kept.stop());
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(kept.signal.aborted).toBe(false);
    const { remainingMs } = await leases.timeToLive({ leaseId: kept.leaseId });
    expect(remainingMs).toBeGreaterThan(0n);
  });
});
