import { DesiredExecutionState, ExecutionState, JobState, NodeDatabaseKind } from '@jobkeep/api';
import { eventually } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import { useFakeComputeNodes } from './test-support/fake-compute-node.js';
import { runRequester } from './test-support/requester-processes.js';
import { REQUESTER, useRequesterCluster } from './test-support/requester-cluster.js';

describe('the requester daemon', () => {
  const startCompute = useFakeComputeNodes();
  const cluster = useRequesterCluster();

  it('places a job on an online compute node, completes it when its execution completes, and stops cleanly on SIGTERM', async () => {
    const { address, cli, nodes, submit, status, jobState, startDaemon } = await cluster();
    const compute = await startCompute(address, 'compute-a', { slots: 2 });
    const daemon = await startDaemon();
    expect((await nodes.get({ nodeId: REQUESTER })).node).toMatchObject({ kind: NodeDatabaseKind.REQUESTER, online: true });

    const [job] = await submit('--', 'echo', 'hi');
    await eventually(async () => expect((await jobState(job!.id)).state).toBe(JobState.COMPLETED));

    const report = await status(job!.id);
    expect(report.job).toMatchObject({ state: 'COMPLETED', retryCount: 0 });
    expect(report.executions).toEqual([
      expect.objectContaining({ id: `${job!.id}.x1`, attempt: 1, computeNodeId: 'compute-a', desiredState: 'RUNNING', computeState: 'COMPLETED' }),
    ]);
    expect(report.latestRun).toMatchObject({ state: 'COMPLETED', exitCode: 0, stdoutTail: 'ran on compute-a\n' });
    expect(compute.bids.map((bid) => [bid.id, bid.jobSpec])).toEqual([[`${job!.id}.x1`, { executor: 'exec', argv: ['echo', 'hi'] }]]);
    expect(compute.runsOf(job!.id)).toHaveLength(1);
    const logs = await runRequester(['logs', ...cli, job!.id]);
    expect(logs.stdout).toContain('ran on compute-a');

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    // Its last line: once read from the pipe, which may come after the exit, so are all the others.
    await daemon.waitFor('requester stopped');
    expect(daemon.lines.filter((line) => line.level >= 40)).toEqual([]);
    expect((await nodes.get({ nodeId: REQUESTER })).node!.online).toBe(false);
  });

  it('recovers the end of a run whose report never came: the compute node wrote it to its database only', async () => {
    const { address, executions, submit, jobState, views, startDaemon } = await cluster();
    const compute = await startCompute(address, 'compute-a', { slots: 1, outcome: () => ({ kind: 'hold' }) });
    const daemon = await startDaemon();
    const [job] = await submit('--executor', 'noop');
    await eventually(async () => expect((await jobState(job!.id)).state).toBe(JobState.RUNNING));
    // The node stays online but reports nothing more: the end of the run reaches only its own database.
    await compute.mute();
    const executionId = `${job!.id}.x1`;
    await executions.updateExecutionState({ nodeId: 'compute-a', executionId, newState: ExecutionState.PUBLISHING });
    await executions.updateExecutionState({ nodeId: 'compute-a', executionId, newState: ExecutionState.COMPLETED, message: 'exit 0' });

    await eventually(async () => expect((await jobState(job!.id)).state).toBe(JobState.COMPLETED), { timeoutMs: 15_000 });
    expect(await views(job!.id)).toEqual([expect.objectContaining({ id: executionId, computeState: ExecutionState.COMPLETED })]);
    // Logged before the job's end was written, but read from the daemon's stdout, which may come after the state.
    await daemon.waitFor('a lost report of a compute node recovered');
  });

  it('runs one daemon per node id: a second waits, under a new lease when its own is revoked meanwhile, and takes the node once the first stops; one stopped while it waits revokes its lease', { timeout: 20_000 }, async () => {
    const { nodes, leases, launch, startDaemon } = await cluster();
    const first = await startDaemon(['--lease-ttl-seconds', '2']);
    const firstLease = (await nodes.get({ nodeId: REQUESTER })).node!.leaseId;
    const second = launch(['--lease-ttl-seconds', '2', '--address', 'second:7420']);
    const waiting = await second.waitFor('node online under another lease; waiting for it to end');
    expect(waiting.heldBy).toBe(String(firstLease));
    await leases.revoke({ leaseId: BigInt(waiting.leaseId as string) });
    await second.waitFor('lease lost while waiting for the node; waiting on under a new lease');
    await eventually(() => expect(second.lines.filter((line) => line.msg === 'node online under another lease; waiting for it to end')).toHaveLength(2));
    expect((await nodes.get({ nodeId: REQUESTER })).node).toMatchObject({ leaseId: firstLease, online: true });

    // A third one waiting is stopped by SIGTERM, and goes without a trace: its lease is revoked.
    const leaseIds = async () => (await leases.list({ pageSize: 100 })).leases.map((lease) => lease.id).sort();
    const before = await leaseIds();
    const third = launch(['--lease-ttl-seconds', '2']);
    await third.waitFor('node online under another lease; waiting for it to end');
    expect(await leaseIds()).toHaveLength(before.length + 1);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(await leaseIds()).toEqual(before);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await Promise.race([
      second.waitFor('requester ready'),
      second.exited.then((code) => Promise.reject(new Error(`the waiting daemon exited with ${code}`))),
    ]);
    const taken = (await nodes.get({ nodeId: REQUESTER })).node!;
    expect(taken).toMatchObject({ online: true, address: 'second:7420' });
    expect(taken.leaseId).not.toBe(firstLease);
  });

  it('spreads 100 jobs over 3 compute nodes by their free slots and completes each with exactly one run', { timeout: 60_000 }, async () => {
    const { address, jobs, submit, startDaemon } = await cluster();
    const computeNodes = await Promise.all(['compute-a', 'compute-b', 'compute-c'].map((id) => startCompute(address, id, { slots: 8 })));
    const daemon = await startDaemon();
    const submitted = await submit('--count', '100', '--executor', 'noop');

    const completed = async () => (await jobs.listJobs({ nodeId: REQUESTER, states: [JobState.COMPLETED], pageSize: 1000 })).jobs.length;
    await eventually(async () => expect(await completed()).toBe(100), { timeoutMs: 45_000 });
    for (const job of submitted) expect(computeNodes.flatMap((node) => node.runsOf(job.id))).toEqual([`${job.id}.x1`]);
    for (const node of computeNodes) expect(node.runs.size).toBeGreaterThan(0);
    expect(daemon.lines.filter((line) => line.level >= 40)).toEqual([]);
  });

  it('retries a failed execution on another node, then fails the job after its retries with the exit message in status', async () => {
    const { address, submit, status, jobState, startDaemon } = await cluster();
    const failing = { slots: 1, outcome: () => ({ kind: 'fail' as const, exitCode: 3, stderr: 'boom: disk full\n' }) };
    await startCompute(address, 'compute-a', failing);
    await startCompute(address, 'compute-b', failing);
    await startDaemon();

    const [job] = await submit('--max-retries', '1', '--backoff-ms', '50', '--', 'false');
    await eventually(async () => expect((await jobState(job!.id)).state).toBe(JobState.FAILED));

    const report = await status(job!.id);
    expect(report.job.state).toBe('FAILED');
    expect(report.job.retryCount).toBe(1);
    expect(report.job.message).toContain('exit 3: boom: disk full');
    expect(report.job.message).toContain('out of retries');
    expect(report.executions.map((execution) => [execution.attempt, execution.computeState])).toEqual([
      [1, 'FAILED'],
      [2, 'FAILED'],
    ]);
    // The retry went to the other node.
    expect(new Set(report.executions.map((execution) => execution.computeNodeId)).size).toBe(2);
    expect(report.latestRun).toMatchObject({ state: 'FAILED', exitCode: 3, stderrTail: 'boom: disk full\n' });
  });

  it('tries a rejected bid on another node without using a retry', async () => {
    const { address, submit, jobState, views, startDaemon } = await cluster();
    // The most free slots: picked first.
    const rejecting = await startCompute(address, 'compute-a', { slots: 4, outcome: () => ({ kind: 'reject' }) });
    const accepting = await startCompute(address, 'compute-b', { slots: 1 });
    await startDaemon();

    const [job] = await submit('--max-retries', '0', '--', 'echo', 'hi');
    await eventually(async () => expect((await jobState(job!.id)).state).toBe(JobState.COMPLETED));

    expect((await jobState(job!.id)).retryCount).toBe(0);
    expect((await views(job!.id)).map((view) => [view.id, view.computeNodeId, view.computeState])).toEqual([
      [`${job!.id}.x1`, 'compute-a', ExecutionState.BID_REJECTED],
      [`${job!.id}.x2`, 'compute-b', ExecutionState.COMPLETED],
    ]);
    expect(rejecting.runsOf(job!.id)).toHaveLength(0);
    expect(accepting.runsOf(job!.id)).toHaveLength(1);
  });

  it('gives the job of a node that goes offline to another node, and cancels it on the offline one', async () => {
    const { address, executions, submit, jobState, views, startDaemon } = await cluster();
    const vanishing = await startCompute(address, 'compute-a', { slots: 4, outcome: () => ({ kind: 'hold' }) });
    const staying = await startCompute(address, 'compute-b', { slots: 1 });
    await startDaemon();

    const [job] = await submit('--backoff-ms', '50', '--', 'sleep', '60');
    await eventually(async () => {
      expect(vanishing.heldCount).toBe(1);
      expect((await jobState(job!.id)).state).toBe(JobState.RUNNING);
    });
    await vanishing.goOffline();

    await eventually(async () => expect((await jobState(job!.id)).state).toBe(JobState.COMPLETED));
    expect((await jobState(job!.id)).retryCount).toBe(1);
    const [first, second] = await views(job!.id);
    expect(first).toMatchObject({
      id: `${job!.id}.x1`,
      computeNodeId: 'compute-a',
      desiredState: DesiredExecutionState.STOPPED,
      computeState: ExecutionState.FAILED,
      stateMessage: 'node compute-a offline',
    });
    expect(second).toMatchObject({ computeNodeId: 'compute-b', computeState: ExecutionState.COMPLETED });
    expect((await executions.getExecution({ nodeId: 'compute-a', executionId: first!.id })).execution!.state).toBe(ExecutionState.CANCELLED);
    expect(staying.runsOf(job!.id)).toHaveLength(1);
  });

  it('cancels a running job: the compute-side execution becomes CANCELLED and the view STOPPED', async () => {
    const { address, cli, executions, submit, jobState, views, startDaemon } = await cluster();
    const compute = await startCompute(address, 'compute-a', { slots: 1, outcome: () => ({ kind: 'hold' }) });
    await startDaemon();

    const [job] = await submit('--', 'sleep', '60');
    await eventually(async () => {
      expect(compute.heldCount).toBe(1);
      expect((await jobState(job!.id)).state).toBe(JobState.RUNNING);
    });

    const cancel = await runRequester(['cancel', ...cli, job!.id]);
    expect(cancel).toMatchObject({ code: 0, stdout: `${job!.id} CANCELLED\n` });
    const executionId = `${job!.id}.x1`;
    await eventually(async () => {
      expect((await executions.getExecution({ nodeId: 'compute-a', executionId })).execution!.state).toBe(ExecutionState.CANCELLED);
      expect(compute.cancelled.has(executionId)).toBe(true);
      expect((await views(job!.id))[0]).toMatchObject({ desiredState: DesiredExecutionState.STOPPED, computeState: ExecutionState.CANCELLED });
    });
    expect((await jobState(job!.id)).state).toBe(JobState.CANCELLED);

    const again = await runRequester(['cancel', ...cli, job!.id]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/^error: .*CANCELLED.*\(FAILED_PRECONDITION\)\n$/);
  });
});
