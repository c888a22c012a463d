export { openStorage } from './storage.js';
export type { Storage, StorageSettings } from './storage.js';
export { DEFAULT_STORE_LIMITS } from './store-limits.js';
export type { StoreLimits } from './store-limits.js';
export { DURABILITY_MODES } from './sqlite-connection.js';
export type { Durability } from './sqlite-connection.js';
export { GROUP_COMMIT_DEFAULTS } from './group-commit.js';
export type { GroupCommitSettings } from './group-commit.js';
export type { Stall, StallWatchSettings } from './stall-watch.js';
export type { StallCreditObserver } from './lease-stall-credit.js';
export { DatabaseLocations } from './database-locations.js';
export type { DatabaseLocationSettings, NodeDatabaseKind } from './database-locations.js';
export type { Catalogue, CatalogueEntry, DatabaseLifecycle } from './catalogue.js';
export { checkNodeId } from './identifiers.js';
export { describeRetentionPolicy, parseDuration, parseRetentionSetting } from './retention-policy.js';
export type { RetentionPolicy, RetentionRule } from './retention-policy.js';
export type { RetentionReport } from './retention.js';
export type { RetentionPolicies, RetentionRunner } from './retention-runner.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './page-token.js';
export { JOB_LIMITS, DEFAULT_NAMESPACE } from './job-validation.js';
export {
  DEFAULT_RETRY_POLICY,
  DESIRED_EXECUTION_STATES,
  EXECUTION_STATES,
  JOB_EVENT_TYPES,
  JOB_STATES,
  JOB_TYPES,
  TERMINAL_JOB_STATES,
} from './job-model.js';
export type {
  Batch,
  DesiredExecutionState,
  ExecutionState,
  FailedJob,
  Job,
  JobClaim,
  JobEvent,
  JobEventType,
  JobExecution,
  JobState,
  JobType,
  JsonObject,
  QueueHold,
  RetryPolicy,
} from './job-model.js';
export type {
  ClaimProof,
  CreatedJob,
  CreateExecutionInput,
  CreateJobInput,
  ExecutionQuery,
  JobChanges,
  JobHistoryQuery,
  JobKey,
  JobQuery,
  JobStore,
  OnDuplicate,
  Page,
  PageRequest,
  TimeRange,
  UpdateExecutionInput,
  UpdateJobInput,
  UpdateJobStateInput,
} from './job-store.js';

// Compute executions, checkpoints, counters at open and the consistency check (issue 3).
export { EXECUTION_EVENT_TYPES, TERMINAL_EXECUTION_STATES } from './execution-model.js';
export type { Execution, ExecutionCounters, ExecutionEvent, ExecutionEventType, RunResult } from './execution-model.js';
export type {
  ExecutionHistoryQuery,
  ExecutionListQuery,
  ExecutionStore,
  NewExecutionInput,
  UpdateExecutionStateInput,
} from './execution-store.js';
export { EXECUTION_TRANSITIONS, isTerminalExecutionState } from './execution-transitions.js';
export { EXECUTION_LIMITS } from './execution-validation.js';
export type { Checkpoint, CheckpointInfo, CheckpointQuery, CheckpointStore, PutCheckpointInput } from './checkpoint-store.js';
export { CHECKPOINT_LIMITS } from './checkpoint-validation.js';
export type { CommittedBatch, DatabaseOpenedInfo, OpenDatabaseCounts } from './database-pool.js';
export { checkNodeDatabase } from './consistency-check.js';
export type { ConsistencyProblem } from './consistency-check.js';

// History feeds for watches, and compaction of the history (issue 3).
export { revisionCompacted } from './history-reads.js';
export type {
  ExecutionEventFilter,
  ExecutionHistoryFeed,
  HistoryBounds,
  HistoryEvent,
  HistoryFeed,
  HistoryFilter,
  HistoryPage,
  HistoryPageQuery,
  JobEventFilter,
  JobHistoryFeed,
} from './history-feed.js';
export type { HistoryCompaction } from './history-compaction.js';

// Coordination: leases, locks and fencing (issue 4).
export { CoordinationDatabase } from './coordination-database.js';
export { readLockHolding } from './lock-holding.js';
export type { LockHolding } from './lock-holding.js';

// Lock-guarded writes and the node registry (issue 4).
export type { LockGuard } from './lock-guard-check.js';
export { NODE_KINDS } from './node-validation.js';
export type { NodeCapacity, NodeListQuery, NodeRegistryStore, RegisteredNode, RegisterNodeInput } from './node-registry.js';

// Leases, locks and their lines of waiters (issue 4).
export { LEASE_LIMITS } from './lease-store.js';
export type { Lease, LeaseOwner, LeaseStore, LeaseTimeToLive } from './lease-store.js';
export { LOCK_LIMITS } from './lock-store.js';
export type { Acquired, AcquireInput, Lock, LockQuery, LockStore } from './lock-store.js';
export { checkLockName } from './lock-names.js';

// Work queues, claims, retries, holds and batches (issue 5).
export type { ClaimedJob, ClaimJobInput, HoldJobInput, QueueHoldInput, WorkQueueStore } from './work-queue-store.js';
export { MAX_BATCH_JOBS } from './batch-store.js';
export type { BatchQuery, BatchReport, BatchReportQuery, BatchStore, CreateBatchInput, CreatedBatch } from './batch-store.js';
export type { ClaimReturner, ClaimsReturned } from './claim-returner.js';

// The admin tool: naming databases, holding a data directory, inspecting and moving data (issue 7).
export { COORDINATION_NAME, databaseName, databasePath, existingDatabase, parseDatabaseName } from './database-names.js';
export type { DatabaseRef } from './database-names.js';
export { holdDataDir, readDataDirHolder } from './data-dir-holder.js';
export type { DataDirHolder, HeldDataDir } from './data-dir-holder.js';
export type { StorageAdmin } from './storage-admin.js';
export { DRAIN_LOCK } from './node-drain.js';
export type { DrainOptions, DrainOutcome, DrainProgress, FinishedMoves } from './node-drain.js';
export { getRows, listKeys, listTableNames, listTables } from './database-tables.js';
export type { KeyListing, TableInfo } from './database-tables.js';
export { readDatabaseStats } from './database-stats.js';
export type { DatabaseStats, HistorySpan, StorageObjectStats } from './database-stats.js';
export { backupDatabase, compactDatabase, formatGain } from './database-copies.js';
export type { CopyOutcome } from './database-copies.js';
export { checkCoordinationDatabase, checkDatabaseFile } from './coordination-check.js';
export { exportDatabase } from './database-export.js';
export type { DatabaseExport, ExportHeader } from './database-export.js';
export type { ImportOutcome } from './database-import.js';
export { listDatabaseInfos, readJobHistoryFile, readLocksFile, readNodesFile } from './admin-reads.js';
export type { DatabaseInfo } from './admin-reads.js';

// Bearer tokens and their roles (issue 8).
export { ACCESS_TOKEN_LIMITS, TOKEN_ROLES, checkNewAccessToken, checkTokenId, readAccessTokensFile } from './access-tokens.js';
export type { AccessToken, AccessTokens, NewAccessToken, TokenRole } from './access-tokens.js';
// The store's checkers and limits, reused by the server's rules for every request (issue 8), so
// that each limit is defined once.
export { checkIdentifier, checkOptionalIdentifier, MAX_IDENTIFIER_LENGTH } from './identifiers.js';
export { checkLabels, checkRetryPolicy, checkTextLength, encodeSpec } from './job-validation.js';
export { INITIAL_JOB_STATES } from './job-transitions.js';
export { INITIAL_EXECUTION_STATES } from './execution-transitions.js';
export { checkOutputTail } from './execution-validation.js';
export { checkCheckpointData, checkCheckpointName, checkCheckpointPrefix } from './checkpoint-validation.js';
export { checkLockPrefix } from './lock-names.js';
export { checkAddress } from './node-validation.js';
export { checkPageSize, MAX_PAGE_TOKEN_LENGTH } from './page-token.js';
export { MAX_KEY_LIMIT } from './database-tables.js';
