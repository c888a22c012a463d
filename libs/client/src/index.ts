export {
  createCheckpointStoreClient,
  createExecutionStoreClient,
  createJobStoreClient,
  createLeaseClient,
  createLockClient,
  createNodeRegistryClient,
} from './service-clients.js';
export type {
  CheckpointStoreClient,
  ExecutionStoreClient,
  JobStoreClient,
  JobkeepClientOptions,
  NodeRegistryClient,
} from './service-clients.js';
export { grantLease, keepLeaseAlive } from './lease-keeper.js';
export { registerNode } from './node-registration.js';
export type { RegisterNodeOptions } from './node-registration.js';
export { registerUnderLease } from './leased-registration.js';
export type { LeasedRegistrationOptions } from './leased-registration.js';
export type { KeepLeaseOptions, LeaseKeeper, LeaseServiceClient } from './lease-keeper.js';
export { withLock } from './with-lock.js';
export type { HeldLock, LockServiceClient, WithLockOptions } from './with-lock.js';
export { watchExecutions, watchJobs } from './resumable-watch.js';
export type { ResumableWatchOptions } from './resumable-watch.js';
export { JobkeepError, isJobkeepError } from '@jobkeep/errors';
export type { StatusCodeName } from '@jobkeep/errors';
export { EXECUTORS, SPEC_LIMITS, WATCH_CHECKPOINT, attemptOf, executionIdFor, parseJobSpec } from './agent-protocol.js';
export type { ExecutorName, JobSpec } from './agent-protocol.js';
export { connectionSecurity } from './connection-security.js';
export type { ConnectionSecurity } from './connection-security.js';
export { CONNECTION_SECURITY_OPTIONS } from './connection-options.js';
export type { ConnectionSecuritySettings } from './connection-options.js';
