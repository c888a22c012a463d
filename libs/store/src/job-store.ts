import type {
  DesiredExecutionState,
  ExecutionState,
  Job,
  JobEvent,
  JobExecution,
  JobState,
  JobType,
  JsonObject,
  RetryPolicy,
} from './job-model.js';
import type { LockGuard } from './lock-guard-check.js';

/**
 * What the services need of a requester database. Methods return promises so that a write can
 * wait for its group commit, and so that an implementation on a networked database fits behind
 * the same interface. Every method takes the requester node's id first. Every write takes an
 * optional lock guard: it is then made only while that lock is held with that fencing token,
 * and is ABORTED, changing nothing, otherwise.
 */
export interface JobStore {
  createJob(nodeId: string, input: CreateJobInput): Promise<CreatedJob>;
  getJob(nodeId: string, key: JobKey): Promise<Job>;
  listJobs(nodeId: string, query: JobQuery): Promise<Page<Job>>;
  updateJob(nodeId: string, input: UpdateJobInput): Promise<Job>;
  updateJobState(nodeId: string, input: UpdateJobStateInput): Promise<Job>;
  /** Returns the revision of the deletion. */
  deleteJob(nodeId: string, jobId: string, expectedRevision?: number, lockGuard?: LockGuard): Promise<number>;
  getJobHistory(nodeId: string, query: JobHistoryQuery): Promise<Page<JobEvent>>;
  createExecution(nodeId: string, input: CreateExecutionInput): Promise<JobExecution>;
  updateExecution(nodeId: string, input: UpdateExecutionInput): Promise<JobExecution>;
  listExecutions(nodeId: string, query: ExecutionQuery): Promise<Page<JobExecution>>;
}

export interface CreateJobInput {
  id?: string;
  name?: string;
  namespace?: string;
  type?: JobType;
  priority?: number;
  labels?: Record<string, string>;
  queue?: string;
  batchId?: string;
  spec?: JsonObject;
  /** PENDING (the default), QUEUED or HELD. */
  state?: JobState;
  stateMessage?: string;
  requestId?: string;
  /** Made only while this lock is held with this token; ABORTED otherwise. */
  lockGuard?: LockGuard;
  /** Unique among the namespace's non-terminal jobs; see `onDuplicate`. */
  dedupeKey?: string;
  /** Fields left out take their defaults (DEFAULT_RETRY_POLICY). */
  retryPolicy?: Partial<RetryPolicy>;
  /** When a live job of the namespace has the dedupe key: ALREADY_EXISTS ('fail', the default), or that job. */
  onDuplicate?: OnDuplicate;
}

export type OnDuplicate = 'fail' | 'returnExisting';

export interface CreatedJob {
  job: Job;
  /** True when `job` is the live job that already had the dedupe key, and nothing was created. */
  existing: boolean;
}

export type JobKey =
  | { id: string }
  | { idPrefix: string }
  | { name: string; namespace?: string };

export interface Page<T> {
  items: T[];
  /** Empty on the last page. */
  nextPageToken: string;
}

export interface PageRequest {
  /** 1 to MAX_PAGE_SIZE; DEFAULT_PAGE_SIZE when absent or zero. */
  pageSize?: number;
  pageToken?: string;
}

/** A half-open time range in milliseconds: `from` inclusive, `to` exclusive. */
export interface TimeRange {
  from?: number;
  to?: number;
}

export interface JobQuery extends PageRequest {
  states?: JobState[];
  namespace?: string;
  labelSelector?: Record<string, string>;
  queue?: string;
  batchId?: string;
  created?: TimeRange;
  modified?: TimeRange;
  orderBy?: 'createTime' | 'modifyTime';
  descending?: boolean;
}

/** The fields UpdateJob may change; an absent field is left as it is. */
export interface JobChanges {
  name?: string;
  spec?: JsonObject;
  labels?: Record<string, string>;
  priority?: number;
  queue?: string;
  batchId?: string;
}

export interface UpdateJobInput {
  jobId: string;
  changes: JobChanges;
  expectedRevision?: number;
  /** Made only while this lock is held with this token; ABORTED otherwise. */
  lockGuard?: LockGuard;
}

export interface UpdateJobStateInput {
  jobId: string;
  newState: JobState;
  message?: string;
  expectedStates?: JobState[];
  expectedRevision?: number;
  executionId?: string;
  /** Made only while this lock is held with this token; ABORTED otherwise. */
  lockGuard?: LockGuard;
  /** Required to move a claimed job to COMPLETED, FAILED or QUEUED; ABORTED when no longer the job's. */
  claim?: ClaimProof;
  /** With a RUNNING job going to QUEUED: its stage is done, and it moves on to this queue. */
  nextQueue?: string;
}

/** What a claimer shows to prove the claim ClaimJob gave it is still the job's. */
export interface ClaimProof {
  leaseId: number;
  token: number;
}

export interface JobHistoryQuery extends PageRequest {
  jobId?: string;
  executionId?: string;
  fromRevision?: number;
}

export interface CreateExecutionInput {
  id?: string;
  jobId: string;
  computeNodeId: string;
  desiredState?: DesiredExecutionState;
  computeState?: ExecutionState;
  stateMessage?: string;
  requestId?: string;
  /** Made only while this lock is held with this token; ABORTED otherwise. */
  lockGuard?: LockGuard;
}

export interface UpdateExecutionInput {
  executionId: string;
  desiredState?: DesiredExecutionState;
  computeState?: ExecutionState;
  message?: string;
  expectedDesiredStates?: DesiredExecutionState[];
  expectedRevision?: number;
  /** Made only while this lock is held with this token; ABORTED otherwise. */
  lockGuard?: LockGuard;
}

export interface ExecutionQuery extends PageRequest {
  jobId: string;
}
