import { DesiredExecutionState, JobState, NodeDatabaseKind } from '@jobkeep/api';
import { WATCH_CHECKPOINT, executionIdFor } from '@jobkeep/client';
import { eventually } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import { useFakeComputeNodes, type FakeComputeNode } from './test-support/fake-compute-node.js';
import { REQUESTER, useRequesterCluster } from './test-support/requester-cluster.js';

describe('requester crash recovery', () => {
  const startCompute = useFakeComputeNodes();
  const startCluster = useRequesterCluster();

  async function cluster() {
    const base = await startCluster();
    const { jobs, executions } = base;
    /** Each job's executions: the requester's views, and the compute nodes' records. */
    const executionsOf = async (jobId: string, computeNodes: FakeComputeNode[]) => ({
      views: (await jobs.listExecutions({ nodeId: REQUESTER, jobId })).executions.map((view) => view.id),
      onCompute: (
        await Promise.all(computeNodes.map(async (node) => (await executions.listExecutions({ nodeId: node.id, jobId })).executions))
      )
        .flat()
        .map((execution) => execution.id),
      runs: computeNodes.flatMap((node) => node.runsOf(jobId)),
    });
    return { ...base, executionsOf };
  }

  it('finishes every job after a SIGKILL mid-flight and a restart, running each exactly once', async () => {
    const { address, checkpoints, submit, startDaemon, countIn, executionsOf } = await cluster();
    const computeNodes = await Promise.all(
      ['compute-a', 'compute-b', 'compute-c'].map((id) => startCompute(address, id, { slots: 4, outcome: () => ({ kind: 'hold' }) })),
    );
    const savedCheckpoint = async () => {
      const { checkpoint } = await checkpoints.getCheckpoint({ nodeId: REQUESTER, kind: NodeDatabaseKind.REQUESTER, name: WATCH_CHECKPOINT });
      return BigInt(new TextDecoder().decode(checkpoint!.data));
    };
    // A short lease: the restarted daemon waits for the killed one's lease to expire before it registers.
    const daemonArgs = ['--lease-ttl-seconds', '2'];
    const first = await startDaemon(daemonArgs);
    const jobs = await submit('--count', '30', '--executor', 'noop');

    // Every slot busy, the other jobs waiting for one, a checkpoint saved: then the requester dies.
    await eventually(async () => {
      expect(computeNodes.map((node) => node.heldCount)).toEqual([4, 4, 4]);
      expect(await countIn(JobState.RUNNING)).toBe(12);
      expect(await savedCheckpoint()).toBeGreaterThan(0n);
    });
    const saved = await savedCheckpoint();
    first.child.kill('SIGKILL');
    await first.exited;

    // While it is down, the running executions complete and report to its database.
    for (const node of computeNodes) node.outcome = () => ({ kind: 'complete', stdout: `ran on ${node.id}\n` });
    await Promise.all(computeNodes.map((node) => node.release()));

    const second = await startDaemon(daemonArgs);
    const recovering = await second.waitFor('requester recovering');
    expect(BigInt(recovering.checkpoint as string)).toBeGreaterThan(0n);
    expect(BigInt(recovering.checkpoint as string)).toBeGreaterThanOrEqual(saved);
    await eventually(async () => expect(await countIn(JobState.COMPLETED)).toBe(30));

    for (const job of jobs) {
      const x1 = executionIdFor(job.id, 1);
      expect(await executionsOf(job.id, computeNodes)).toEqual({ views: [x1], onCompute: [x1], runs: [x1] });
    }
    expect(computeNodes.every((node) => node.runs.size > 0)).toBe(true);
  });

  it('repeats the compute-side create under the same id after a crash between the two creates', async () => {
    const { address, jobs, submit, startDaemon, countIn, executionsOf } = await cluster();
    const compute = await startCompute(address, 'compute-a', { slots: 1 });
    const [job] = await submit('--', 'echo', 'hi');
    // What a requester that died between the creates leaves behind: its own view, and no bid.
    const id = executionIdFor(job!.id, 1);
    await jobs.createExecution({
      nodeId: REQUESTER,
      execution: { id, jobId: job!.id, computeNodeId: 'compute-a', desiredState: DesiredExecutionState.RUNNING },
      requestId: id,
    });

    await startDaemon();
    await eventually(async () => expect(await countIn(JobState.COMPLETED)).toBe(1));
    expect(await executionsOf(job!.id, [compute])).toEqual({ views: [id], onCompute: [id], runs: [id] });
  });
});
