import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Storage } from './storage.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

const REQUESTER = 'requester-1';
const COMPUTE = 'compute-1';
const LOCK = '/locks/queue/ingest';

describe('lock-guarded writes', () => {
  const temp = useTempStorage();
  let time = 1_700_000_000_000;
  const open = async () => {
    const storage = temp.open({ clock: () => time });
    const first = (await storage.leaseStore.grant(60)).id;
    const second = (await storage.leaseStore.grant(60)).id;
    return { storage, first, second };
  };
  /** Takes LOCK for the lease through the lock manager; the holding's token. */
  const holdLock = async (storage: Storage, leaseId: number) => (await storage.lockStore.acquire({ name: LOCK, leaseId })).fencingToken;
  const releaseLock = (storage: Storage, leaseId: number, token: number) => storage.lockStore.release(LOCK, leaseId, token);

  it('makes every job store write that carries the current token', async () => {
    const { storage, first } = await open();
    const { jobStore } = storage;
    const lockGuard = { lockName: LOCK, fencingToken: await holdLock(storage, first) };
    const job = (await jobStore.createJob(REQUESTER, { id: 'job-1', lockGuard })).job;
    await jobStore.updateJob(REQUESTER, { jobId: job.id, changes: { priority: 3 }, lockGuard });
    const execution = await jobStore.createExecution(REQUESTER, { jobId: job.id, computeNodeId: COMPUTE, lockGuard });
    await jobStore.updateExecution(REQUESTER, { executionId: execution.id, desiredState: 'RUNNING', lockGuard });
    await jobStore.updateJobState(REQUESTER, { jobId: job.id, newState: 'CANCELLED', lockGuard });
    await jobStore.deleteJob(REQUESTER, job.id, undefined, lockGuard);
    const { items } = await jobStore.getJobHistory(REQUESTER, {});
    expect(items.map((event) => event.type)).toEqual([
      'JOB_CREATED',
      'JOB_UPDATED',
      'EXECUTION_CREATED',
      'EXECUTION_UPDATED',
      'JOB_STATE_CHANGED',
      'JOB_DELETED',
    ]);
  });

  it('refuses a stale token once the lock went to another lease, changing nothing', async () => {
    const { storage, first, second } = await open();
    const { jobStore } = storage;
    const stale = { lockName: LOCK, fencingToken: await holdLock(storage, first) };
    const job = (await jobStore.createJob(REQUESTER, { id: 'job-1', lockGuard: stale })).job;
    const execution = await jobStore.createExecution(REQUESTER, { jobId: job.id, computeNodeId: COMPUTE });
    await releaseLock(storage, first, stale.fencingToken);
    const current = await holdLock(storage, second);
    const history = await jobStore.getJobHistory(REQUESTER, {});

    const message = `lock ${LOCK} is held with token ${current}, not ${stale.fencingToken}`;
    expect(await rejection(jobStore.createJob(REQUESTER, { id: 'job-2', lockGuard: stale }), 'ABORTED')).toBe(message);
    await rejection(jobStore.updateJob(REQUESTER, { jobId: job.id, changes: { priority: 9 }, lockGuard: stale }), 'ABORTED');
    await rejection(jobStore.updateJobState(REQUESTER, { jobId: job.id, newState: 'CANCELLED', lockGuard: stale }), 'ABORTED');
    await rejection(jobStore.createExecution(REQUESTER, { jobId: job.id, computeNodeId: COMPUTE, lockGuard: stale }), 'ABORTED');
    await rejection(jobStore.updateExecution(REQUESTER, { executionId: execution.id, desiredState: 'STOPPED', lockGuard: stale }), 'ABORTED');
    await jobStore.updateJobState(REQUESTER, { jobId: job.id, newState: 'HELD' });
    const held = await jobStore.getJob(REQUESTER, { id: job.id });
    const historyBefore = await jobStore.getJobHistory(REQUESTER, {});
    await rejection(jobStore.updateJobState(REQUESTER, { jobId: job.id, newState: 'FAILED', lockGuard: stale }), 'ABORTED');

    expect(await jobStore.getJob(REQUESTER, { id: job.id })).toEqual(held);
    expect(await jobStore.getJobHistory(REQUESTER, {})).toEqual(historyBefore);
    expect(historyBefore.items).toHaveLength(history.items.length + 1); // only the unguarded change
    await rejection(jobStore.getJob(REQUESTER, { id: 'job-2' }), 'NOT_FOUND');

    // The new holder's token works.
    await jobStore.updateJobState(REQUESTER, { jobId: job.id, newState: 'CANCELLED', lockGuard: { lockName: LOCK, fencingToken: current } });
  });

  it('refuses a guard naming a free lock, or one never acquired', async () => {
    const { storage, first } = await open();
    const token = await holdLock(storage, first);
    await releaseLock(storage, first, token);
    const lockGuard = { lockName: LOCK, fencingToken: token };
    expect(await rejection(storage.jobStore.createJob(REQUESTER, { lockGuard }), 'ABORTED')).toBe(`lock ${LOCK} is not held`);
    const never = { lockName: '/locks/never', fencingToken: 1 };
    expect(await rejection(storage.executionStore.createExecution(COMPUTE, { jobId: 'j-1', requesterNodeId: REQUESTER, lockGuard: never }), 'ABORTED')).toBe(
      'lock /locks/never is not held',
    );
    // A refused create brings no database into being.
    expect(fs.readdirSync(temp.dir()).filter((file) => file.endsWith('.db'))).toEqual(['coordination.db']);
    expect(fs.existsSync(path.join(temp.dir(), `${REQUESTER}-requester.db`))).toBe(false);
  });

  it('refuses the token of a holder whose lease has expired, before the sweeper ends the lease', async () => {
    const { storage } = await open();
    const shortLived = (await storage.leaseStore.grant(5)).id;
    const lockGuard = { lockName: LOCK, fencingToken: await holdLock(storage, shortLived) };
    const job = (await storage.jobStore.createJob(REQUESTER, { lockGuard })).job;
    time += 5_000;
    expect(await rejection(storage.jobStore.updateJob(REQUESTER, { jobId: job.id, changes: { priority: 1 }, lockGuard }), 'ABORTED')).toMatch(
      /^lock \/locks\/queue\/ingest is not held: the lease \d+ of token \d+ has expired$/,
    );
  });

  it('fences every execution store write the same way', async () => {
    const { storage, first, second } = await open();
    const { executionStore } = storage;
    const stale = { lockName: LOCK, fencingToken: await holdLock(storage, first) };
    const created = await executionStore.createExecution(COMPUTE, { jobId: 'j-1', requesterNodeId: REQUESTER, lockGuard: stale });
    const rejected = await executionStore.updateExecutionState(COMPUTE, { executionId: created.id, newState: 'BID_REJECTED', lockGuard: stale });
    await releaseLock(storage, first, stale.fencingToken);
    const current = { lockName: LOCK, fencingToken: await holdLock(storage, second) };
    const history = await executionStore.getExecutionHistory(COMPUTE, {});
    const counters = await executionStore.getCounters(COMPUTE);

    await rejection(executionStore.createExecution(COMPUTE, { jobId: 'j-2', requesterNodeId: REQUESTER, lockGuard: stale }), 'ABORTED');
    await rejection(executionStore.deleteExecution(COMPUTE, created.id, undefined, stale), 'ABORTED');
    expect(await executionStore.getExecution(COMPUTE, created.id)).toEqual(rejected);
    expect(await executionStore.getExecutionHistory(COMPUTE, {})).toEqual(history);
    expect(await executionStore.getCounters(COMPUTE)).toEqual(counters);

    await executionStore.deleteExecution(COMPUTE, created.id, rejected.revision, current);
    await rejection(executionStore.getExecution(COMPUTE, created.id), 'NOT_FOUND');
  });

  it('rejects a malformed guard as INVALID_ARGUMENT before anything is read', async () => {
    const { jobStore, executionStore } = (await open()).storage;
    expect(await rejection(jobStore.createJob(REQUESTER, { lockGuard: { lockName: '', fencingToken: 1 } }), 'INVALID_ARGUMENT')).toContain('lock_name');
    expect(await rejection(executionStore.deleteExecution(COMPUTE, 'e-1', undefined, { lockName: LOCK, fencingToken: 0 }), 'INVALID_ARGUMENT')).toContain(
      'fencing_token',
    );
  });
});
