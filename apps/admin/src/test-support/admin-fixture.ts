import path from 'node:path';
import { JobState, NodeDatabaseKind } from '@jobkeep/api';
import { createExecutionStoreClient, createJobStoreClient, createLeaseClient, createLockClient, createNodeRegistryClient } from '@jobkeep/client';
import { launchServer, useNodeProcesses, type NodeProcess } from '@jobkeep/testing';
import { afterEach } from 'vitest';

export const REQUESTER = 'req-1';
export const COMPUTE = 'cmp-1';
export const LOCK = '/locks/queue/ingest';

export interface AdminCluster {
  dir: string;
  /** Absolute, as the server was given it, so that paths read the same live and offline. */
  dataDir: string;
  address: string;
  server: NodeProcess;
  /** Global options that point jobkeep-admin at the live server or at the files. */
  live: string[];
  offline: string[];
  jobs: ReturnType<typeof createJobStoreClient>;
  executions: ReturnType<typeof createExecutionStoreClient>;
  leases: ReturnType<typeof createLeaseClient>;
  locks: ReturnType<typeof createLockClient>;
  nodes: ReturnType<typeof createNodeRegistryClient>;
  /** Stops the server gracefully (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** What seed() wrote. */
export interface Seeded {
  jobIds: string[];
  queuedJobId: string;
  cancelledJobId: string;
  executionId: string;
  leaseId: bigint;
}

/**
 * A real server over a temporary data directory, with clients of it, for one test each: every
 * process is killed and every client closed after the test.
 */
export function useAdminCluster(): { start(serverArgs?: string[]): Promise<AdminCluster>; processes: ReturnType<typeof useNodeProcesses> } {
  const processes = useNodeProcesses();
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });
  return {
    processes,
    async start(serverArgs = []) {
      const dir = processes.tempDir();
      const dataDir = path.join(dir, 'data');
      const { server, address } = await launchServer(processes, dataDir, serverArgs);
      const clients = {
        jobs: createJobStoreClient(address),
        executions: createExecutionStoreClient(address),
        leases: createLeaseClient(address),
        locks: createLockClient(address),
        nodes: createNodeRegistryClient(address),
      };
      closers.push(() => Object.values(clients).forEach((client) => client.close()));
      return {
        dir,
        dataDir,
        address,
        server,
        live: ['--server', address],
        offline: ['--data-dir', dataDir],
        ...clients,
        async stop() {
          server.child.kill('SIGTERM');
          await server.exited;
        },
      };
    },
  };
}

/**
 * Some of everything through the real clients: jobs in several states (with history) on
 * REQUESTER, the requester's view of an execution, that execution on COMPUTE, a lease holding
 * LOCK, and COMPUTE registered under that lease.
 */
export async function seed(cluster: AdminCluster): Promise<Seeded> {
  const jobIds: string[] = [];
  for (const name of ['render', 'encode', 'publish']) {
    const { job } = await cluster.jobs.createJob({ nodeId: REQUESTER, job: { name, labels: { team: 'vfx' }, spec: { executor: 'noop', frames: [1, 2, 3] } } });
    jobIds.push(job!.id);
  }
  const { job: queued } = await cluster.jobs.createJob({ nodeId: REQUESTER, job: { name: 'waiting', queue: 'ingest', state: JobState.QUEUED } });
  jobIds.push(queued!.id);
  const cancelledJobId = jobIds[1]!;
  await cluster.jobs.updateJobState({ nodeId: REQUESTER, jobId: cancelledJobId, newState: JobState.CANCELLED, message: 'not needed' });

  const { execution: view } = await cluster.jobs.createExecution({ nodeId: REQUESTER, execution: { jobId: jobIds[0]!, computeNodeId: COMPUTE } });
  await cluster.executions.createExecution({
    nodeId: COMPUTE,
    execution: { id: view!.id, jobId: jobIds[0]!, requesterNodeId: REQUESTER, jobSpec: { executor: 'noop' } },
  });

  const { lease } = await cluster.leases.grant({ ttlSeconds: 3600n });
  await cluster.locks.acquire({ name: LOCK, leaseId: lease!.id });
  await cluster.nodes.register({
    node: { id: COMPUTE, kind: NodeDatabaseKind.COMPUTE, address: '127.0.0.1:7422', labels: { zone: 'a' }, capacity: { slots: 4 } },
    leaseId: lease!.id,
  });
  return { jobIds, queuedJobId: queued!.id, cancelledJobId, executionId: view!.id, leaseId: lease!.id };
}

/** `count` PENDING jobs on `nodeId`, each with a spec of about `specBytes`, `inFlight` at a time. */
export async function createJobs(cluster: AdminCluster, nodeId: string, count: number, specBytes = 200, inFlight = 16): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const padding = 'x'.repeat(specBytes);
  const worker = async () => {
    while (next < count) {
      next += 1;
      const { job } = await cluster.jobs.createJob({ nodeId, job: { spec: { executor: 'noop', padding } } });
      ids.push(job!.id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return ids;
}
