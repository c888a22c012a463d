import { ExecutionState, ExecutionStore, JobState, JobStore, createTypedClient, type TypedClient } from '@jobkeep/api';
import { afterEach, describe, expect, it } from 'vitest';
import { useCoordinationClients } from './test-support/coordination-clients.js';
import { useTestServers } from './test-support/test-server.js';
import { failsWith } from './test-support/fails-with.js';

const REQUESTER = 'requester-1';
const COMPUTE = 'compute-1';
const LOCK = '/locks/queue/ingest';
/** Store writes carrying a LockGuard, against the real LeaseService and LockService. */
describe('lock-guarded writes over gRPC', () => {
  const servers = useTestServers();
  const coordination = useCoordinationClients();
  const stores: { close(): void }[] = [];
  afterEach(() => {
    for (const client of stores.splice(0)) client.close();
  });
  const start = async () => {
    const { server } = await servers.start();
    const jobs: TypedClient<typeof JobStore> = createTypedClient(JobStore, server.address, { defaultDeadlineMs: 10_000 });
    const executions: TypedClient<typeof ExecutionStore> = createTypedClient(ExecutionStore, server.address, { defaultDeadlineMs: 10_000 });
    stores.push(jobs, executions);
    const { leases, locks } = coordination(server.address);
    /** A new lease of `ttlSeconds` that takes LOCK (waiting in line if needed); its guard. */
    const holder = async (ttlSeconds = 30) => {
      const { lease } = await leases.grant({ ttlSeconds: BigInt(ttlSeconds) });
      const { fencingToken } = await locks.acquire({ name: LOCK, leaseId: lease!.id, wait: true });
      return { leaseId: lease!.id, guard: { lockName: LOCK, fencingToken } };
    };
    return { jobs, executions, leases, locks, holder };
  };

  it('makes every write that carries the current token', async () => {
    const { jobs, executions, holder } = await start();
    const { guard: lockGuard } = await holder();
    const { job } = await jobs.createJob({ nodeId: REQUESTER, job: { id: 'job-1' }, lockGuard });
    await jobs.updateJob({ nodeId: REQUESTER, job: { id: 'job-1', priority: 4 }, updateMask: { paths: ['priority'] }, lockGuard });
    const { execution } = await jobs.createExecution({ nodeId: REQUESTER, execution: { jobId: job!.id, computeNodeId: COMPUTE }, lockGuard });
    await jobs.updateExecution({ nodeId: REQUESTER, executionId: execution!.id, message: 'bid sent', lockGuard });
    await jobs.updateJobState({ nodeId: REQUESTER, jobId: 'job-1', newState: JobState.CANCELLED, lockGuard });
    await jobs.deleteJob({ nodeId: REQUESTER, jobId: 'job-1', lockGuard });

    const { execution: bid } = await executions.createExecution({ nodeId: COMPUTE, execution: { jobId: 'job-1', requesterNodeId: REQUESTER }, lockGuard });
    await executions.updateExecutionState({ nodeId: COMPUTE, executionId: bid!.id, newState: ExecutionState.BID_REJECTED, lockGuard });
    await executions.deleteExecution({ nodeId: COMPUTE, executionId: bid!.id, lockGuard });
    expect((await jobs.getJobHistory({ nodeId: REQUESTER })).events).toHaveLength(6);
    expect((await executions.getExecutionHistory({ nodeId: COMPUTE })).events).toHaveLength(3);
  });

  it('refuses an old token once the lock was released and taken by another lease, changing nothing', async () => {
    const { jobs, executions, locks, holder } = await start();
    const first = await holder();
    await jobs.createJob({ nodeId: REQUESTER, job: { id: 'job-1' }, lockGuard: first.guard });
    const { execution } = await executions.createExecution({ nodeId: COMPUTE, execution: { jobId: 'job-1', requesterNodeId: REQUESTER }, lockGuard: first.guard });
    await locks.release({ name: LOCK, leaseId: first.leaseId, fencingToken: first.guard.fencingToken });
    const second = await holder();
    expect(second.guard.fencingToken > first.guard.fencingToken).toBe(true);
    const jobBefore = await jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: 'job-1' } });
    const jobHistory = await jobs.getJobHistory({ nodeId: REQUESTER });
    const executionHistory = await executions.getExecutionHistory({ nodeId: COMPUTE });

    const stale = first.guard;
    const aborted = failsWith('ABORTED', `lock ${LOCK} is held with token ${second.guard.fencingToken}, not ${stale.fencingToken}`);
    await expect(jobs.updateJobState({ nodeId: REQUESTER, jobId: 'job-1', newState: JobState.RUNNING, lockGuard: stale })).rejects.toEqual(aborted);
    await expect(jobs.updateJob({ nodeId: REQUESTER, job: { id: 'job-1', priority: 9 }, updateMask: { paths: ['priority'] }, lockGuard: stale })).rejects.toEqual(aborted);
    await expect(jobs.createJob({ nodeId: REQUESTER, job: { id: 'job-2' }, lockGuard: stale })).rejects.toEqual(aborted);
    await expect(
      executions.updateExecutionState({ nodeId: COMPUTE, executionId: execution!.id, newState: ExecutionState.BID_ACCEPTED, lockGuard: stale }),
    ).rejects.toEqual(aborted);
    expect(await jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: 'job-1' } })).toEqual(jobBefore);
    expect(await jobs.getJobHistory({ nodeId: REQUESTER })).toEqual(jobHistory);
    expect(await executions.getExecutionHistory({ nodeId: COMPUTE })).toEqual(executionHistory);

    const { job } = await jobs.updateJobState({ nodeId: REQUESTER, jobId: 'job-1', newState: JobState.QUEUED, lockGuard: second.guard });
    expect(job?.state).toBe(JobState.QUEUED);
  });

  it('refuses a guard naming a free lock', async () => {
    const { jobs, executions, locks, holder } = await start();
    const { leaseId, guard } = await holder();
    await locks.release({ name: LOCK, leaseId, fencingToken: guard.fencingToken });
    await expect(jobs.createJob({ nodeId: REQUESTER, job: {}, lockGuard: guard })).rejects.toEqual(failsWith('ABORTED', `lock ${LOCK} is not held`));
    await expect(
      executions.createExecution({ nodeId: COMPUTE, execution: { jobId: 'j-1', requesterNodeId: REQUESTER }, lockGuard: { lockName: '/locks/never', fencingToken: 1n } }),
    ).rejects.toEqual(failsWith('ABORTED', 'lock /locks/never is not held'));
    await expect(jobs.listJobs({ nodeId: REQUESTER })).rejects.toEqual(failsWith('NOT_FOUND'));
  });

  it('rejects a guard without a lock name or a token as INVALID_ARGUMENT', async () => {
    const { jobs, executions } = await start();
    await expect(jobs.createJob({ nodeId: REQUESTER, job: {}, lockGuard: { fencingToken: 3n } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'lock_guard.lock_name'),
    );
    await expect(executions.deleteExecution({ nodeId: COMPUTE, executionId: 'e-1', lockGuard: { lockName: LOCK } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'lock_guard.fencing_token'),
    );
  });

  it('a holder that stops keeping alive loses the lock after its TTL; its fenced writes then fail with ABORTED while the new holder\'s succeed', async () => {
    const { jobs, holder } = await start();
    const lapsed = await holder(2); // never kept alive
    await jobs.createJob({ nodeId: REQUESTER, job: { id: 'job-1' }, lockGuard: lapsed.guard });
    // Waits in line until the first holder's lease expires and the lock passes on.
    const successor = await holder();
    expect(successor.guard.fencingToken > lapsed.guard.fencingToken).toBe(true);

    await expect(jobs.updateJobState({ nodeId: REQUESTER, jobId: 'job-1', newState: JobState.QUEUED, lockGuard: lapsed.guard })).rejects.toEqual(
      failsWith('ABORTED', `lock ${LOCK} is held with token ${successor.guard.fencingToken}, not ${lapsed.guard.fencingToken}`),
    );
    const { job } = await jobs.updateJobState({ nodeId: REQUESTER, jobId: 'job-1', newState: JobState.QUEUED, lockGuard: successor.guard });
    expect(job?.state).toBe(JobState.QUEUED);
  });
});
