import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DesiredExecutionState, ExecutionState, NodeDatabaseKind, type Execution, type JobExecution } from '@jobkeep/api';
import {
  createExecutionStoreClient,
  createJobStoreClient,
  createLeaseClient,
  createNodeRegistryClient,
  executionIdFor,
  type ExecutionStoreClient,
  type JobSpec,
  type JobStoreClient,
  type LeaseServiceClient,
  type NodeRegistryClient,
} from '@jobkeep/client';
import { COMPUTE_MAIN, SERVER_MAIN, eventually, launchServer, processGone, useNodeProcesses, type NodeProcess } from '@jobkeep/testing';
import { afterEach, describe, expect, it } from 'vitest';

const REQUESTER = 'req-1';
const COMPUTE = 'cmp-1';
/** A program that runs for longer than any test: it ends only when it is killed. */
const LONG_RUNNING: JobSpec = { executor: 'exec', argv: [process.execPath, '-e', 'setTimeout(() => {}, 30000)'] };

describe('the compute node agent', () => {
  const processes = useNodeProcesses();
  let clients: { jobs: JobStoreClient; executions: ExecutionStoreClient; registry: NodeRegistryClient; leases?: LeaseServiceClient } | undefined;
  afterEach(() => {
    for (const client of Object.values(clients ?? {})) client.close();
    clients = undefined;
  });

  /** A server, and the clients a requester uses: the tests play the requester. */
  async function serve() {
    const { address } = await launchServer(processes, processes.tempDir());
    const serving = {
      jobs: createJobStoreClient(address),
      executions: createExecutionStoreClient(address),
      registry: createNodeRegistryClient(address),
      leases: createLeaseClient(address),
    };
    clients = serving;
    return { address, ...serving };
  }

  async function launchCompute(address: string, args: string[] = []): Promise<NodeProcess> {
    const compute = processes.launch(COMPUTE_MAIN, ['--server', address, '--node-id', COMPUTE, '--lease-ttl-seconds', '2', '--kill-grace-ms', '500', ...args]);
    await Promise.race([
      compute.waitFor('compute node ready'),
      // With its last words (the fatal line saying why), so that a failure here explains itself.
      compute.exited.then((code) => Promise.reject(new Error(`the compute node exited with ${code} before it was ready: ${JSON.stringify(compute.lines.slice(-3))}`))),
    ]);
    return compute;
  }

  /** What a requester does to run a job on the compute node (agent protocol, step 2). */
  async function submit(jobs: JobStoreClient, executions: ExecutionStoreClient, spec: JobSpec): Promise<string> {
    const { job } = await jobs.createJob({ nodeId: REQUESTER, job: { spec: { ...spec } } });
    const id = executionIdFor(job!.id, 1);
    await jobs.createExecution({ nodeId: REQUESTER, execution: { id, jobId: job!.id, computeNodeId: COMPUTE, desiredState: DesiredExecutionState.RUNNING } });
    await executions.createExecution({ nodeId: COMPUTE, execution: { id, jobId: job!.id, requesterNodeId: REQUESTER, jobSpec: { ...spec } } });
    return id;
  }

  /** The pid of the exec run's process (its process group), as the agent logs it. */
  const startedPid = async (compute: NodeProcess, id: string): Promise<number> => (await compute.waitFor('process started', { executionId: id })).childPid as number;

  const onCompute = async (executions: ExecutionStoreClient, id: string): Promise<Execution> =>
    (await executions.getExecution({ nodeId: COMPUTE, executionId: id })).execution!;

  async function requesterView(jobs: JobStoreClient, id: string): Promise<JobExecution> {
    const jobId = id.slice(0, id.lastIndexOf('.x'));
    return (await jobs.listExecutions({ nodeId: REQUESTER, jobId })).executions.find((execution) => execution.id === id)!;
  }

  async function settlesIn(executions: ExecutionStoreClient, id: string, state: ExecutionState): Promise<Execution> {
    return eventually(async () => {
      const execution = await onCompute(executions, id);
      expect(ExecutionState[execution.state]).toBe(ExecutionState[state]);
      return execution;
    });
  }

  it('registers under a lease with its labels and slots, and walks a bid to COMPLETED, reporting every step to the requester', async () => {
    const { address, jobs, executions, registry } = await serve();
    await launchCompute(address, ['--slots', '3', '--labels', 'zone=eu-1,disk=ssd']);

    const { node } = await registry.get({ nodeId: COMPUTE });
    expect(node).toMatchObject({ kind: NodeDatabaseKind.COMPUTE, labels: { zone: 'eu-1', disk: 'ssd' }, online: true });
    expect(node!.capacity?.slots).toBe(3);

    const id = await submit(jobs, executions, { executor: 'exec', argv: [process.execPath, '-e', "console.log('hello from the run')"], constraints: { zone: 'eu-1' } });
    const done = await settlesIn(executions, id, ExecutionState.COMPLETED);
    expect(done.runResult).toMatchObject({ exitCode: 0, stdoutTail: 'hello from the run\n', stderrTail: '' });

    const history = await executions.getExecutionHistory({ nodeId: COMPUTE, executionId: id });
    expect(history.events.map((event) => ExecutionState[event.newState])).toEqual(['CREATED', 'BID_ACCEPTED', 'RUNNING', 'PUBLISHING', 'COMPLETED']);
    await eventually(async () => expect((await requesterView(jobs, id)).computeState).toBe(ExecutionState.COMPLETED));
    // The requester's history holds each report, in order.
    const reports = (await jobs.getJobHistory({ nodeId: REQUESTER, jobId: done.jobId })).events
      .filter((event) => event.executionId === id)
      .map((event) => event.message.split(', ')[1]?.split(':')[0]);
    expect(reports).toEqual(['CREATED', 'BID_ACCEPTED', 'RUNNING', 'PUBLISHING', 'COMPLETED']);
  });

  it('fails a command that fails, with its exit code and stderr tail, and a spec that does not parse, saying why', async () => {
    const { address, jobs, executions } = await serve();
    const compute = await launchCompute(address, ['--slots', '2']);

    const failing = await submit(jobs, executions, {
      executor: 'exec',
      argv: [process.execPath, '-e', "console.error('warming up'); console.error('disk full'); process.exit(3)"],
    });
    const failed = await settlesIn(executions, failing, ExecutionState.FAILED);
    expect(failed.stateMessage).toBe('exit 3: disk full');
    expect(failed.runResult).toMatchObject({ exitCode: 3, stderrTail: 'warming up\ndisk full\n' });
    await eventually(async () => expect(await requesterView(jobs, failing)).toMatchObject({ computeState: ExecutionState.FAILED, stateMessage: 'exit 3: disk full' }));
    expect(await compute.waitFor('execution finished', { executionId: failing })).toMatchObject({ state: 'FAILED', exitCode: 3 });

    const invalid = await submit(jobs, executions, { executor: 'exec', argv: [] });
    expect((await settlesIn(executions, invalid, ExecutionState.FAILED)).stateMessage).toMatch(/^invalid job spec: spec.argv must name the program/);

    const missing = await submit(jobs, executions, { executor: 'exec', argv: ['/no/such/program'] });
    const notFound = await settlesIn(executions, missing, ExecutionState.FAILED);
    expect(notFound.runResult?.exitCode).toBe(127);
    expect(notFound.stateMessage).toMatch(/ENOENT/);
  });

  it('rejects bids when every slot is busy, or when its labels do not meet the constraints', async () => {
    const { address, jobs, executions } = await serve();
    await launchCompute(address, ['--slots', '1', '--labels', 'zone=eu-1']);

    const elsewhere = await submit(jobs, executions, { executor: 'noop', constraints: { zone: 'us-2' } });
    expect((await settlesIn(executions, elsewhere, ExecutionState.BID_REJECTED)).stateMessage).toBe('constraints not met: zone=us-2');

    const sleeper = await submit(jobs, executions, { executor: 'sleep', sleepMs: 60_000 });
    await settlesIn(executions, sleeper, ExecutionState.RUNNING);
    const turnedAway = await submit(jobs, executions, { executor: 'noop' });
    expect((await settlesIn(executions, turnedAway, ExecutionState.BID_REJECTED)).stateMessage).toBe('no free slot');
    await eventually(async () =>
      expect(await requesterView(jobs, turnedAway)).toMatchObject({ computeState: ExecutionState.BID_REJECTED, stateMessage: 'no free slot' }),
    );
    expect(ExecutionState[(await onCompute(executions, sleeper)).state]).toBe('RUNNING');
  });

  it('kills a running command when the requester cancels it, and frees its slot', async () => {
    const { address, jobs, executions } = await serve();
    const compute = await launchCompute(address, ['--slots', '1']);

    const id = await submit(jobs, executions, LONG_RUNNING);
    const pid = await startedPid(compute, id);
    expect(processGone(pid)).toBe(false);

    // The requester stops its view, then cancels in the compute database (agent protocol, step 5).
    await jobs.updateExecution({ nodeId: REQUESTER, executionId: id, desiredState: DesiredExecutionState.STOPPED });
    await executions.updateExecutionState({ nodeId: COMPUTE, executionId: id, newState: ExecutionState.CANCELLED, message: 'job cancelled' });

    await compute.waitFor('execution finished', { executionId: id, state: 'CANCELLED' });
    await eventually(() => expect(processGone(pid)).toBe(true));
    expect(await onCompute(executions, id)).toMatchObject({ state: ExecutionState.CANCELLED, stateMessage: 'job cancelled' });

    const next = await submit(jobs, executions, { executor: 'noop' });
    await settlesIn(executions, next, ExecutionState.COMPLETED);
  });

  it('after a crash, kills what its runs left, fails them with "node restart" in both databases, and takes the bids that waited', async () => {
    const { address, jobs, executions } = await serve();
    const first = await launchCompute(address);
    const id = await submit(jobs, executions, LONG_RUNNING);
    const pid = await startedPid(first, id);
    await settlesIn(executions, id, ExecutionState.RUNNING);
    first.child.kill('SIGKILL');
    await first.exited;
    // The run's process group outlives a compute agent killed with SIGKILL...
    expect(processGone(pid)).toBe(false);
    const waiting = await submit(jobs, executions, { executor: 'noop' });

    const second = await launchCompute(address);
    // ...until the node starts again.
    await eventually(() => expect(processGone(pid)).toBe(true));
    expect(await onCompute(executions, id)).toMatchObject({ state: ExecutionState.FAILED, stateMessage: 'node restart' });
    expect(await requesterView(jobs, id)).toMatchObject({ computeState: ExecutionState.FAILED, stateMessage: 'node restart' });
    expect(second.lines.some((line) => line.msg === 'execution failed by restart' && line.executionId === id)).toBe(true);
    await settlesIn(executions, waiting, ExecutionState.COMPLETED);
  });

  it('on SIGTERM kills its runs, fails them with "node shutting down", goes offline and exits 0', async () => {
    const { address, jobs, executions, registry } = await serve();
    const compute = await launchCompute(address);
    const id = await submit(jobs, executions, LONG_RUNNING);
    const pid = await startedPid(compute, id);

    compute.child.kill('SIGTERM');
    expect(await compute.exited).toBe(0);
    expect(await onCompute(executions, id)).toMatchObject({ state: ExecutionState.FAILED, stateMessage: 'node shutting down' });
    expect(await requesterView(jobs, id)).toMatchObject({ computeState: ExecutionState.FAILED, stateMessage: 'node shutting down' });
    expect((await registry.get({ nodeId: COMPUTE })).node?.online).toBe(false);
    await eventually(() => expect(processGone(pid)).toBe(true));
  });

  it('runs one agent per node id: a second waits for the first one’s lease, and takes the node once the first stops', { timeout: 20_000 }, async () => {
    const { address, registry, leases } = await serve();
    const first = await launchCompute(address);
    const { leaseId: firstLease, address: firstAddress } = (await registry.get({ nodeId: COMPUTE })).node!;
    const args = ['--server', address, '--node-id', COMPUTE, '--lease-ttl-seconds', '2', '--address', 'second:7421'];
    const second = processes.launch(COMPUTE_MAIN, args);
    const waiting = await second.waitFor('node online under another lease; waiting for it to end');
    expect(waiting.heldBy).toBe(String(firstLease));
    expect(waiting.reason).toContain(`node ${COMPUTE} is online under lease ${firstLease}`);
    // Longer than a lease's TTL: the first keeps its lease alive, and its place.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await registry.get({ nodeId: COMPUTE })).node).toMatchObject({ leaseId: firstLease, online: true, address: firstAddress });
    expect(second.lines.some((line) => line.msg === 'compute node ready')).toBe(false);

    // A third one waiting is stopped by SIGTERM, and goes without a trace: its lease is revoked.
    const leaseIds = async () => (await leases.list({ pageSize: 100 })).leases.map((lease) => lease.id).sort();
    const before = await leaseIds();
    const third = processes.launch(COMPUTE_MAIN, args);
    await third.waitFor('node online under another lease; waiting for it to end');
    expect((await leaseIds()).length).toBe(before.length + 1);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(third.lines.some((line) => line.msg === 'compute node stopped before it was ready')).toBe(true);
    expect(await leaseIds()).toEqual(before);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await second.waitFor('compute node ready');
    const taken = (await registry.get({ nodeId: COMPUTE })).node!;
    expect(taken).toMatchObject({ online: true, address: 'second:7421' });
    expect(taken.leaseId).not.toBe(firstLease);
  });

  it('keeps waiting for the node under a new lease when its own lease is lost while it waits', { timeout: 20_000 }, async () => {
    const { address, registry, leases } = await serve();
    const first = await launchCompute(address);
    const firstLease = (await registry.get({ nodeId: COMPUTE })).node!.leaseId;
    const second = processes.launch(COMPUTE_MAIN, ['--server', address, '--node-id', COMPUTE, '--lease-ttl-seconds', '2', '--address', 'second:7421']);
    const waiting = await second.waitFor('node online under another lease; waiting for it to end');
    expect(waiting.heldBy).toBe(String(firstLease));
    await leases.revoke({ leaseId: BigInt(waiting.leaseId as string) });
    const replaced = await second.waitFor('lease lost while waiting for the node; waiting on under a new lease');
    await eventually(() => expect(second.lines.filter((line) => line.msg === 'node online under another lease; waiting for it to end').length).toBe(2));
    // Whichever saw the revoke first: the register's refusal, or the keep-alive's.
    expect(replaced.reason).toMatch(new RegExp(`lease ${waiting.leaseId as string} (not found|has expired or been revoked)`));

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await Promise.race([
      second.waitFor('compute node ready'),
      second.exited.then((code) => Promise.reject(new Error(`the waiting agent exited with ${code}: ${JSON.stringify(second.lines.slice(-3))}`))),
    ]);
    expect((await registry.get({ nodeId: COMPUTE })).node).toMatchObject({ online: true, address: 'second:7421' });
  });

  it('rides out a server restart in the middle of a run: the run completes and is reported', { timeout: 30_000 }, async () => {
    const dataDir = processes.tempDir();
    const port = await freePort();
    const listen = ['--listen', `127.0.0.1:${port}`];
    const { server, address } = await launchServer(processes, dataDir, listen);
    const jobs = createJobStoreClient(address);
    const executions = createExecutionStoreClient(address);
    clients = { jobs, executions, registry: createNodeRegistryClient(address) };
    const compute = await launchCompute(address);

    // A run that ends when the test says so: once a file exists.
    const release = path.join(processes.tempDir(), 'release');
    const waitForFile = `const fs = require('node:fs'); setInterval(() => { if (fs.existsSync(process.argv[1])) process.exit(0); }, 20);`;
    const id = await submit(jobs, executions, { executor: 'exec', argv: [process.execPath, '-e', waitForFile, release] });
    await compute.waitFor('process started', { executionId: id });

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    fs.writeFileSync(release, '');
    await processes.launch(SERVER_MAIN, ['--data-dir', dataDir, ...listen]).waitFor('jobkeep serving');

    // The run ended while the server was down: its last steps wait for the server to come back.
    await eventually(async () => expect(await requesterView(jobs, id)).toMatchObject({ computeState: ExecutionState.COMPLETED }), { timeoutMs: 20_000 });
    expect((await onCompute(executions, id)).runResult?.exitCode).toBe(0);
  });

  it('takes a new lease and registers again when its lease is lost', async () => {
    const { address, registry, leases } = await serve();
    const compute = await launchCompute(address);
    const before = (await registry.get({ nodeId: COMPUTE })).node!;
    await leases.revoke({ leaseId: before.leaseId });
    await compute.waitFor('lease lost');
    await eventually(async () => {
      const node = (await registry.get({ nodeId: COMPUTE })).node!;
      expect(node.online).toBe(true);
      expect(node.leaseId).not.toBe(before.leaseId);
    });
  });
});

/** A loopback port nobody listens on now, for a server that must come back at the same address. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
