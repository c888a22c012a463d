export { openStorage } from './storage.js';
export type { Storage, StorageSettings } from './storage.js';
export { DatabaseLocations } from './database-locations.js';
export type { DatabaseLocationSettings, NodeDatabaseKind } from './database-locations.js';
export type { Catalogue, CatalogueEntry, DatabaseLifecycle } from './catalogue.js';
export { checkNodeId } from './identifiers.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './page-token.js';
export { JOB_LIMITS, DEFAULT_NAMESPACE } from './job-validation.js';
export {
  DESIRED_EXECUTION_STATES,
  EXECUTION_STATES,
  JOB_EVENT_TYPES,
  JOB_STATES,
  JOB_TYPES,
  TERMINAL_JOB_STATES,
} from './job-model.js';
export type {
  DesiredExecutionState,
  ExecutionState,
  Job,
  JobEvent,
  JobEventType,
  JobExecution,
  JobState,
  JobType,
  JsonObject,
} from './job-model.js';
export type {
  CreateExecutionInput,
  CreateJobInput,
  ExecutionQuery,
  JobChanges,
  JobHistoryQuery,
  JobKey,
  JobQuery,
  JobStore,
  Page,
  PageRequest,
  TimeRange,
  UpdateExecutionInput,
  UpdateJobInput,
  UpdateJobStateInput,
} from './job-store.js';
