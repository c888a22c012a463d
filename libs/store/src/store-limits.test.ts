import { describe, expect, it } from 'vitest';
import { DEFAULT_STORE_LIMITS } from './store-limits.js';
import { filesBelow, rejection, useTempStorage } from './test-support/temp-storage.js';

const REQUESTER = 'requester-1';
const COMPUTE = 'compute-1';

/** A spec whose JSON is exactly `bytes` long: {"x":"..."} is 8 bytes around the padding. */
const specOf = (bytes: number) => ({ x: 'a'.repeat(bytes - 8) });

describe('store limits', () => {
  const temp = useTempStorage();

  it('takes specs and checkpoint data of up to 1 MiB by default', async () => {
    expect(DEFAULT_STORE_LIMITS).toEqual({ maxSpecBytes: 1024 * 1024, maxBlobBytes: 1024 * 1024, maxLockWaiters: 1024 });
    const { jobStore, executionStore, limits } = temp.open();
    expect(limits).toEqual(DEFAULT_STORE_LIMITS);
    await jobStore.createJob(REQUESTER, { spec: specOf(1024 * 1024) });
    await executionStore.createExecution(COMPUTE, { jobId: 'j-1', requesterNodeId: REQUESTER, jobSpec: specOf(1024 * 1024) });
    expect(await rejection(jobStore.createJob(REQUESTER, { spec: specOf(1024 * 1024 + 1) }), 'INVALID_ARGUMENT')).toBe(
      'spec is 1048577 bytes as JSON; the limit is 1048576',
    );
  });

  it('bounds every spec and every checkpoint by the limits it was opened with, writing nothing past them', async () => {
    const { jobStore, batches, executionStore, checkpointStore, limits } = temp.open({ limits: { maxSpecBytes: 1000, maxBlobBytes: 2000 } });
    expect(limits).toEqual({ ...DEFAULT_STORE_LIMITS, maxSpecBytes: 1000, maxBlobBytes: 2000 });
    const { job } = await jobStore.createJob(REQUESTER, { spec: specOf(1000) });
    await executionStore.createExecution(COMPUTE, { jobId: job.id, requesterNodeId: REQUESTER, jobSpec: specOf(1000) });
    await checkpointStore.putCheckpoint(COMPUTE, 'compute', { name: 'full', data: new Uint8Array(2000) });
    const before = filesBelow(temp.root());

    const refused: [Promise<unknown>, string][] = [
      [jobStore.createJob(REQUESTER, { spec: specOf(1001) }), 'spec is 1001 bytes as JSON; the limit is 1000'],
      [jobStore.updateJob(REQUESTER, { jobId: job.id, changes: { spec: specOf(1001) } }), 'spec is 1001 bytes as JSON; the limit is 1000'],
      [batches.createBatch(REQUESTER, { jobs: [{}, { spec: specOf(1001) }] }), 'jobs[1]: spec is 1001 bytes as JSON; the limit is 1000'],
      [executionStore.createExecution(COMPUTE, { jobId: job.id, requesterNodeId: REQUESTER, jobSpec: specOf(1001) }), 'job_spec is 1001 bytes as JSON; the limit is 1000'],
      [checkpointStore.putCheckpoint(COMPUTE, 'compute', { name: 'full', data: new Uint8Array(2001) }), 'checkpoint data is 2001 bytes; the limit is 2000'],
    ];
    for (const [call, message] of refused) expect(await rejection(call, 'INVALID_ARGUMENT')).toBe(message);
    expect(filesBelow(temp.root())).toEqual(before);
    expect((await jobStore.getJob(REQUESTER, { id: job.id })).version).toBe(1);
  });

  it('refuses a limit that is not a positive integer before opening anything', () => {
    expect(() => temp.open({ limits: { maxSpecBytes: 0 } })).toThrow('the store limit maxSpecBytes must be a positive integer, not 0');
    expect(() => temp.open({ limits: { maxLockWaiters: 1.5 } })).toThrow('maxLockWaiters');
  });

  it("bounds a lock's line of waiters: one more is RESOURCE_EXHAUSTED, and a waiter that leaves makes room", async () => {
    const { lockStore, leaseStore } = temp.open({ limits: { maxLockWaiters: 2 } });
    const [holder, first, second, third] = await Promise.all([1, 2, 3, 4].map(() => leaseStore.grant(60)));
    await lockStore.acquire({ name: '/locks/busy', leaseId: holder!.id });
    const leaves = new AbortController();
    const firstWaits = lockStore.acquire({ name: '/locks/busy', leaseId: first!.id, wait: true, signal: leaves.signal });
    const secondWaits = lockStore.acquire({ name: '/locks/busy', leaseId: second!.id, wait: true });
    expect((await lockStore.get('/locks/busy')).waiterLeaseIds).toEqual([first!.id, second!.id]);

    expect(await rejection(lockStore.acquire({ name: '/locks/busy', leaseId: third!.id, wait: true }), 'RESOURCE_EXHAUSTED')).toBe(
      "lock /locks/busy already has 2 waiters in line, the most one lock may have (the server's --max-lock-waiters); try again later",
    );
    // Other locks have lines of their own; trying once never waits, so it is never refused for room.
    await lockStore.acquire({ name: '/locks/other', leaseId: third!.id });
    await rejection(lockStore.acquire({ name: '/locks/busy', leaseId: third!.id }), 'FAILED_PRECONDITION');

    leaves.abort();
    await rejection(firstWaits, 'CANCELLED');
    const thirdWaits = lockStore.acquire({ name: '/locks/busy', leaseId: third!.id, wait: true });
    expect((await lockStore.get('/locks/busy')).waiterLeaseIds).toEqual([second!.id, third!.id]);
    await leaseStore.revoke(holder!.id);
    expect((await secondWaits).lock.holderLeaseId).toBe(second!.id);
    await leaseStore.revoke(second!.id);
    expect((await thirdWaits).lock.holderLeaseId).toBe(third!.id);
  });
});
