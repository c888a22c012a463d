import { DesiredExecutionState, JobState, NodeDatabaseKind } from '@jobkeep/api';
import { WATCH_CHECKPOINT, createCheckpointStoreClient, createExecutionStoreClient, createJobStoreClient, executionIdFor } from '@jobkeep/client';
import { eventually, launchServer, useNodeProcesses } from '@jobkeep/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobView } from './commands/views.js';
import { useFakeComputeNodes, type FakeComputeNode } from './test-support/fake-compute-node.js';
import { launchDaemon, requesterJson } from './test-support/requester-processes.js';

const REQUESTER = 'req-1';

describe('requester crash recovery', () => {
  const processes = useNodeProcesses();
  const startCompute = useFakeComputeNodes();
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  async function cluster() {
    const { address } = await launchServer(processes, processes.tempDir());
    const jobs = createJobStoreClient(address);
    const executions = createExecutionStoreClient(address);
    closers.push(() => jobs.close(), () => executions.close());
    const submit = async (...args: string[]) =>
      (await requesterJson<{ jobs: JobView[] }>(['submit', '--server', address, '--node-id', REQUESTER, ...args])).jobs;
    const startDaemon = async () => {
      const daemon = launchDaemon(processes, address, REQUESTER);
      await daemon.waitFor('requester ready');
      return daemon;
    };
    const countIn = async (state: JobState) => (await jobs.listJobs({ nodeId: REQUESTER, states: [state], pageSize: 1000 })).jobs.length;
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
    return { address, jobs, submit, startDaemon, countIn, executionsOf };
  }

  it('finishes every job after a SIGKILL mid-flight and a restart, running each exactly once', async () => {
    const { address, submit, startDaemon, countIn, executionsOf } = await cluster();
    const computeNodes = await Promise.all(
      ['compute-a', 'compute-b', 'compute-c'].map((id) => startCompute(address, id, { slots: 4, outcome: () => ({ kind: 'hold' }) })),
    );
    const checkpoints = createCheckpointStoreClient(address);
    closers.push(() => checkpoints.close());
    const savedCheckpoint = async () => {
      const { checkpoint } = await checkpoints.getCheckpoint({ nodeId: REQUESTER, kind: NodeDatabaseKind.REQUESTER, name: WATCH_CHECKPOINT });
      return BigInt(new TextDecoder().decode(checkpoint!.data));
    };
    const first = await startDaemon();
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

    const second = await startDaemon();
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
