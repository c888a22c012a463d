import { ExecutionState, JobState } from '@jobkeep/api';
import { eventually } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import { REQUESTER, allJobs, runsPerJob, untilAllEnded, useCluster } from './cluster-fixture.js';

const COMPUTE = ['compute-1', 'compute-2', 'compute-3'];
/** Short compute leases, so that a killed compute node goes offline within seconds. */
const COMPUTE_ARGS = ['--lease-ttl-seconds', '2'];
/** A short requester lease, so that a restarted requester waits seconds for its killed one's lease to expire. */
const REQUESTER_ARGS = ['--lease-ttl-seconds', '2'];

describe('agents that crash', () => {
  const startCluster = useCluster();

  it('kill -9 of a compute node mid-run: its jobs complete on the other nodes', async () => {
    const { cluster, jobs, executions } = await startCluster();
    for (const id of COMPUTE) await cluster.startCompute({ id, slots: 3 }, COMPUTE_ARGS);
    await cluster.startRequester(REQUESTER);
    await jobs.createBatch({ nodeId: REQUESTER, jobs: Array.from({ length: 30 }, () => ({ spec: { executor: 'sleep', sleepMs: 1500 } })) });

    // Once compute-2 is running jobs, it dies without a word.
    let running: string[] = [];
    await eventually(
      async () => {
        const page = await executions.listExecutions({ nodeId: 'compute-2', states: [ExecutionState.RUNNING] }).catch(() => ({ executions: [] }));
        running = page.executions.map((execution) => execution.jobId);
        return running.length > 0;
      },
      { timeoutMs: 30_000, what: 'compute-2 running a job' },
    );
    await cluster.kill('compute-2', 'SIGKILL');

    const ended = await untilAllEnded(jobs, 120_000);
    expect(ended.filter((job) => job.state !== JobState.COMPLETED).map((job) => [job.id, JobState[job.state], job.stateMessage])).toEqual([]);
    // The jobs that were running on compute-2 completed elsewhere: on a live node, once each.
    const elsewhere = await runsPerJob(executions, ['compute-1', 'compute-3']);
    for (const jobId of running) expect(elsewhere.get(jobId), `job ${jobId} completed on another node`).toBe(1);
  });

  it('kill -9 of the requester mid-flight: after its restart every job completes, none run twice', async () => {
    const { cluster, jobs, executions } = await startCluster();
    for (const id of COMPUTE) await cluster.startCompute({ id, slots: 3 }, COMPUTE_ARGS);
    await cluster.startRequester(REQUESTER, REQUESTER_ARGS);
    const created = await jobs.createBatch({ nodeId: REQUESTER, jobs: Array.from({ length: 60 }, () => ({ spec: { executor: 'sleep', sleepMs: 300 } })) });

    // Some jobs done, some running, some waiting: then the requester dies.
    await eventually(async () => (await allJobs(jobs)).some((job) => job.state === JobState.COMPLETED), { timeoutMs: 30_000, what: 'a first job completing' });
    await cluster.kill(REQUESTER, 'SIGKILL');
    const atCrash = await allJobs(jobs);
    expect(atCrash.some((job) => job.state !== JobState.COMPLETED)).toBe(true);

    await cluster.startRequester(REQUESTER, REQUESTER_ARGS);
    const ended = await untilAllEnded(jobs, 180_000);
    expect(ended.filter((job) => job.state !== JobState.COMPLETED).map((job) => [job.id, JobState[job.state], job.stateMessage])).toEqual([]);
    const runs = await runsPerJob(executions, COMPUTE);
    expect(new Set(runs.keys())).toEqual(new Set(created.jobIds));
    expect([...runs.entries()].filter(([, count]) => count !== 1)).toEqual([]);
  });
});
