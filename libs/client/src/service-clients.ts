import type { DescService } from '@bufbuild/protobuf';
import {
  CheckpointStore,
  ExecutionStore,
  JobStore,
  LeaseService,
  LockService,
  NodeRegistry,
  createTypedClient,
  type TypedClient,
  type TypedClientOptions,
} from '@jobkeep/api';
import { newRequestId } from './request-ids.js';
import { retryServiceConfig } from './retry-policy.js';

export type JobStoreClient = TypedClient<typeof JobStore>;
export type ExecutionStoreClient = TypedClient<typeof ExecutionStore>;
export type CheckpointStoreClient = TypedClient<typeof CheckpointStore>;
export type NodeRegistryClient = TypedClient<typeof NodeRegistry>;

export interface JobkeepClientOptions extends Omit<TypedClientOptions, 'channelOptions'> {
  /** Retry safe calls on UNAVAILABLE; on by default. */
  retries?: boolean;
}

/** A typed client whose listed methods grpc-js retries on UNAVAILABLE. */
function clientWithRetries<S extends DescService>(
  service: S,
  target: string,
  options: JobkeepClientOptions,
  safeToRetry: readonly string[],
): TypedClient<S> {
  const { retries = true, ...typedOptions } = options;
  return createTypedClient(service, target, {
    ...typedOptions,
    channelOptions: retries ? { 'grpc.service_config': retryServiceConfig(service.typeName, safeToRetry) } : {},
  });
}

/** The caller's request id, or a new one (see newRequestId): what makes a create safe to retry. */
const withRequestId = <R extends { requestId?: string }>(request: R): R => ({ ...request, requestId: request.requestId || newRequestId() });

/**
 * A client of jobkeep.v1.JobStore at `target` (host:port). Every call has a deadline (10 s
 * unless the options or the call say otherwise). Creates without a request id get one, so
 * that a create retried after a lost reply returns the job it made instead of a twin; reads,
 * creates and holds of queues are retried on UNAVAILABLE, other writes are not. ClaimJob is
 * never retried: a claim whose reply was lost stays with the caller's lease, and returns to
 * its queue when that lease ends.
 */
export function createJobStoreClient(target: string, options: JobkeepClientOptions = {}): JobStoreClient {
  const client = clientWithRetries(JobStore, target, options, [
    'GetJob',
    'ListJobs',
    'GetJobHistory',
    'ListExecutions',
    'CreateJob',
    'CreateExecution',
    'CreateBatch',
    'GetBatch',
    'ListBatches',
    'GetBatchReport',
    'HoldQueue',
    'ReleaseQueue',
    'ListQueueHolds',
  ]);
  return {
    ...client,
    createJob: (request, callOptions) => client.createJob(withRequestId(request), callOptions),
    createExecution: (request, callOptions) => client.createExecution(withRequestId(request), callOptions),
    createBatch: (request, callOptions) => client.createBatch(withRequestId(request), callOptions),
  };
}

/** A client of jobkeep.v1.ExecutionStore, with the same deadlines, request ids and retries. */
export function createExecutionStoreClient(target: string, options: JobkeepClientOptions = {}): ExecutionStoreClient {
  const client = clientWithRetries(ExecutionStore, target, options, [
    'GetExecution',
    'ListExecutions',
    'GetExecutionHistory',
    'GetCounters',
    'CreateExecution',
  ]);
  return { ...client, createExecution: (request, callOptions) => client.createExecution(withRequestId(request), callOptions) };
}

/** A client of jobkeep.v1.CheckpointStore; reads are retried, puts are not. */
export function createCheckpointStoreClient(target: string, options: JobkeepClientOptions = {}): CheckpointStoreClient {
  return clientWithRetries(CheckpointStore, target, options, ['GetCheckpoint', 'ListCheckpoints']);
}

/**
 * A client of jobkeep.v1.LeaseService. Only reads are retried: a repeated Grant would leave a
 * second lease behind, and keep-alives reconnect by themselves (see keepLeaseAlive).
 */
export function createLeaseClient(target: string, options: JobkeepClientOptions = {}): TypedClient<typeof LeaseService> {
  return clientWithRetries(LeaseService, target, options, ['TimeToLive', 'List']);
}

/** A client of jobkeep.v1.LockService; reads are retried. For holding a lock, see withLock. */
export function createLockClient(target: string, options: JobkeepClientOptions = {}): TypedClient<typeof LockService> {
  return clientWithRetries(LockService, target, options, ['Get', 'List']);
}

/** A client of jobkeep.v1.NodeRegistry; registering again is harmless, so it is retried too. */
export function createNodeRegistryClient(target: string, options: JobkeepClientOptions = {}): NodeRegistryClient {
  return clientWithRetries(NodeRegistry, target, options, ['Register', 'Get', 'List']);
}
