import { JobState } from '@jobkeep/api';
import { createCheckpointStoreClient, createExecutionStoreClient, createJobStoreClient, createLeaseClient, createNodeRegistryClient } from '@jobkeep/client';
import { launchServer, useNodeProcesses } from '@jobkeep/testing';
import { afterEach, onTestFailed } from 'vitest';
import type { JobStatus } from '../commands/status.js';
import type { JobView } from '../commands/views.js';
import { launchDaemon, requesterJson } from './requester-processes.js';

export const REQUESTER = 'req-1';

/**
 * A server process per test, clients of it (closed after the test), and the requester's side
 * of it: its commands, its daemon as a process, and what its database holds.
 */
export function useRequesterCluster() {
  const processes = useNodeProcesses();
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  return async function cluster() {
    const { address } = await launchServer(processes, processes.tempDir());
    const jobs = createJobStoreClient(address);
    const executions = createExecutionStoreClient(address);
    const nodes = createNodeRegistryClient(address);
    const checkpoints = createCheckpointStoreClient(address);
    const leases = createLeaseClient(address);
    closers.push(() => jobs.close(), () => executions.close(), () => nodes.close(), () => checkpoints.close(), () => leases.close());
    const cli = ['--server', address, '--node-id', REQUESTER];
    const submit = async (...args: string[]) => (await requesterJson<{ jobs: JobView[] }>(['submit', ...cli, ...args])).jobs;
    const status = (jobId: string) => requesterJson<JobStatus>(['status', ...cli, jobId]);
    const jobState = async (jobId: string) => (await jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: jobId } })).job!;
    const views = async (jobId: string) => (await jobs.listExecutions({ nodeId: REQUESTER, jobId })).executions;
    const countIn = async (state: JobState) => (await jobs.listJobs({ nodeId: REQUESTER, states: [state], pageSize: 1000 })).jobs.length;
    /** A daemon process, not yet ready. */
    const launch = (args: string[] = []) => {
      const daemon = launchDaemon(processes, address, REQUESTER, args);
      // What the daemon did, for whoever reads a failure.
      onTestFailed(() => console.error(daemon.lines.slice(-100).map((line) => JSON.stringify(line)).join('\n')));
      return daemon;
    };
    const startDaemon = async (args: string[] = []) => {
      const daemon = launch(args);
      await daemon.waitFor('requester ready');
      return daemon;
    };
    return { address, cli, jobs, executions, nodes, checkpoints, leases, submit, status, jobState, views, countIn, launch, startDaemon };
  };
}
