import { JobState } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { REQUESTER, runsPerJob, untilAllEnded, useCluster } from './cluster-fixture.js';

const COMPUTE = ['compute-1', 'compute-2', 'compute-3'];

describe('a requester and three compute nodes', () => {
  const startCluster = useCluster();

  it('complete 200 jobs, each run exactly once, spread over every node', async () => {
    const { cluster, jobs, executions } = await startCluster();
    for (const id of COMPUTE) await cluster.startCompute({ id, slots: 4 });
    await cluster.startRequester(REQUESTER);

    const created = await jobs.createBatch({
      nodeId: REQUESTER,
      jobs: Array.from({ length: 200 }, (_, i) => ({ name: `job-${i}`, spec: { executor: 'sleep', sleepMs: 20 } })),
    });
    expect(created.jobIds).toHaveLength(200);

    const ended = await untilAllEnded(jobs, 240_000);
    expect(ended.filter((job) => job.state !== JobState.COMPLETED).map((job) => [job.id, JobState[job.state], job.stateMessage])).toEqual([]);
    const runs = await runsPerJob(executions, COMPUTE);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(runs.keys())).toEqual(new Set(created.jobIds));
    for (const node of COMPUTE) expect((await runsPerJob(executions, [node])).size, `${node} ran jobs`).toBeGreaterThan(0);
  });
});
