export { createJobStoreClient } from './job-store-client.js';
export type { JobStoreClient, JobkeepClientOptions } from './job-store-client.js';
export { watchExecutions, watchJobs } from './resumable-watch.js';
export type { ResumableWatchOptions } from './resumable-watch.js';
export { JobkeepError, isJobkeepError } from '@jobkeep/errors';
export type { StatusCodeName } from '@jobkeep/errors';
