export { createCheckpointStoreClient, createExecutionStoreClient, createJobStoreClient } from './store-clients.js';
export type { CheckpointStoreClient, ExecutionStoreClient, JobStoreClient, JobkeepClientOptions } from './store-clients.js';
export { watchExecutions, watchJobs } from './resumable-watch.js';
export type { ResumableWatchOptions } from './resumable-watch.js';
export { JobkeepError, isJobkeepError } from '@jobkeep/errors';
export type { StatusCodeName } from '@jobkeep/errors';
