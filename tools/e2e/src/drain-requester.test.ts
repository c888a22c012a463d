import { AdminService, DatabaseLifecycle, JobState, createTypedClient } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { allJobs, runsPerJob, untilAllEnded, useCluster } from './cluster-fixture.js';

const RETIRING = 'requester-old';
const KEPT = 'requester-1';

describe('retiring a requester node', () => {
  const startCluster = useCluster();

  it('moves its waiting jobs to another requester, whose daemon runs each of them once', { timeout: 120_000 }, async () => {
    const { cluster, jobs, executions } = await startCluster();
    await cluster.startRequester(RETIRING);
    // No compute node yet: the jobs wait on the node that is going away.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { job } = await jobs.createJob({ nodeId: RETIRING, job: { spec: { executor: 'noop' } } });
      ids.push(job!.id);
    }
    // As an operator does: stop the node's agent, then drain its database into another node's.
    await cluster.kill(RETIRING, 'SIGTERM');
    await cluster.startRequester(KEPT);
    const admin = createTypedClient(AdminService, cluster.address);
    try {
      const progress = [];
      for await (const message of admin.drainNode({ sourceNodeId: RETIRING, targetNodeId: KEPT })) progress.push(message);
      expect(progress.at(-1)).toMatchObject({ moved: 10n, total: 10n, retired: true });
      const { databases } = await admin.listDatabases({});
      expect(databases.find((database) => database.name === `${RETIRING}-requester`)?.lifecycle).toBe(DatabaseLifecycle.RETIRED);
    } finally {
      admin.close();
    }

    await cluster.startCompute({ id: 'compute-1', slots: 4 });
    const ended = await untilAllEnded(jobs, 60_000);
    expect(ended.map((job) => job.id).sort()).toEqual([...ids].sort());
    expect(ended.every((job) => job.state === JobState.COMPLETED)).toBe(true);
    expect([...(await runsPerJob(executions, ['compute-1'])).values()].every((runs) => runs === 1)).toBe(true);
    expect(await allJobs(jobs, RETIRING)).toEqual([]);
  });
});
