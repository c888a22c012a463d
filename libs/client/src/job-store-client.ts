import { randomUUID } from 'node:crypto';
import { JobStore, createTypedClient, type TypedClient, type TypedClientOptions } from '@jobkeep/api';
import { retryServiceConfig } from './retry-policy.js';

export type JobStoreClient = TypedClient<typeof JobStore>;

export interface JobkeepClientOptions extends Omit<TypedClientOptions, 'channelOptions'> {
  /** Retry safe calls on UNAVAILABLE; on by default. */
  retries?: boolean;
}

const SAFE_TO_RETRY = ['GetJob', 'ListJobs', 'GetJobHistory', 'ListExecutions', 'CreateJob', 'CreateExecution'];

/**
 * A client of jobkeep.v1.JobStore at `target` (host:port). Every call has a deadline (10 s
 * unless the options or the call say otherwise). Creates without a request id get one, so
 * that a create retried after a lost reply returns the job it made instead of a twin.
 */
export function createJobStoreClient(target: string, options: JobkeepClientOptions = {}): JobStoreClient {
  const { retries = true, ...typedOptions } = options;
  const client = createTypedClient(JobStore, target, {
    ...typedOptions,
    channelOptions: retries ? { 'grpc.service_config': retryServiceConfig(JobStore.typeName, SAFE_TO_RETRY) } : {},
  });
  return {
    ...client,
    createJob: (request, callOptions) => client.createJob({ ...request, requestId: request.requestId || randomUUID() }, callOptions),
    createExecution: (request, callOptions) =>
      client.createExecution({ ...request, requestId: request.requestId || randomUUID() }, callOptions),
  };
}
