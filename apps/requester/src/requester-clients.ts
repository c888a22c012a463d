import {
  createCheckpointStoreClient,
  createExecutionStoreClient,
  createJobStoreClient,
  createLeaseClient,
  createNodeRegistryClient,
  type CheckpointStoreClient,
  type ConnectionSecurity,
  type ExecutionStoreClient,
  type JobStoreClient,
  type LeaseServiceClient,
  type NodeRegistryClient,
} from '@jobkeep/client';

/** The clients a requester uses: all of them reach one jobkeep server, through libs/client only. */
export interface RequesterClients {
  jobs: JobStoreClient;
  executions: ExecutionStoreClient;
  checkpoints: CheckpointStoreClient;
  nodes: NodeRegistryClient;
  leases: LeaseServiceClient;
  close(): void;
}

export function connectRequester(server: string, security: ConnectionSecurity): RequesterClients {
  const clients = {
    jobs: createJobStoreClient(server, security),
    executions: createExecutionStoreClient(server, security),
    checkpoints: createCheckpointStoreClient(server, security),
    nodes: createNodeRegistryClient(server, security),
    leases: createLeaseClient(server, security),
  };
  return {
    ...clients,
    close() {
      for (const client of Object.values(clients)) client.close();
    },
  };
}
