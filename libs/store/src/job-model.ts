/** The requester's records, as the store hands them out: plain data, no wire types. */

export const JOB_STATES = ['PENDING', 'QUEUED', 'RUNNING', 'HELD', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** The states of a job that has not ended, as an SQL list: `state IN ${LIVE_JOB_STATES_SQL}`. */
export const LIVE_JOB_STATES_SQL = `(${JOB_STATES.filter((state) => !TERMINAL_JOB_STATES.has(state))
  .map((state) => `'${state}'`)
  .join(', ')})`;

export const JOB_TYPES = ['BATCH', 'SERVICE', 'OPS', 'DAEMON'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export type JsonObject = { [key: string]: unknown };

export interface Job {
  id: string;
  name: string;
  namespace: string;
  type: JobType;
  priority: number;
  labels: Record<string, string>;
  queue: string;
  batchId: string;
  spec: JsonObject;
  state: JobState;
  stateMessage: string;
  retryCount: number;
  revision: number;
  version: number;
  /** Milliseconds since the Unix epoch. */
  createTime: number;
  modifyTime: number;
  /** Unique among the namespace's non-terminal jobs; empty when the job has none. */
  dedupeKey: string;
  retryPolicy: RetryPolicy;
  /** When a job given back for a retry may be claimed again; 0 before its first retry and once claimed again. */
  retryTime: number;
  /** The queue (pipeline stage) whose work the job last finished. */
  lastSuccessfulQueue: string;
  /** Set while a ClaimJob caller holds the job. */
  claim: JobClaim | undefined;
}

/** The n-th retry waits min(backoffMs * 2^(n-1), maxBackoffMs); past maxRetries the job FAILS. */
export interface RetryPolicy {
  maxRetries: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 3, backoffMs: 1000, maxBackoffMs: 300_000 };

/** A claimer's hold on a RUNNING job: its lease, and the revision of the claim as its token. */
export interface JobClaim {
  leaseId: number;
  token: number;
  worker: string;
  claimTime: number;
}

/** A hold on a whole queue: ClaimJob hands out nothing from it. */
export interface QueueHold {
  queue: string;
  message: string;
  holdTime: number;
}

/** A group of jobs whose end is noticed as one BATCH_COMPLETED event. */
export interface Batch {
  id: string;
  namespace: string;
  labels: Record<string, string>;
  /** Jobs per state; states with no job are left out. */
  counts: Partial<Record<JobState, number>>;
  total: number;
  completed: boolean;
  /** The revision of the BATCH_COMPLETED event; 0 until then. */
  completeRevision: number;
  createTime: number;
  /** 0 until completed. */
  completeTime: number;
}

/** One FAILED job of a batch, as its status report lists it. */
export interface FailedJob {
  jobId: string;
  name: string;
  queue: string;
  stateMessage: string;
  retryCount: number;
  failTime: number;
}

export const DESIRED_EXECUTION_STATES = ['PENDING', 'RUNNING', 'STOPPED'] as const;
export type DesiredExecutionState = (typeof DESIRED_EXECUTION_STATES)[number];

export const EXECUTION_STATES = [
  'CREATED',
  'BID_ACCEPTED',
  'BID_REJECTED',
  'RUNNING',
  'WAITING_VERIFICATION',
  'RESULT_ACCEPTED',
  'PUBLISHING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
] as const;
export type ExecutionState = (typeof EXECUTION_STATES)[number];

/** The requester's view of an execution of one of its jobs on a compute node. */
export interface JobExecution {
  id: string;
  jobId: string;
  computeNodeId: string;
  desiredState: DesiredExecutionState;
  computeState: ExecutionState;
  stateMessage: string;
  revision: number;
  createTime: number;
  modifyTime: number;
}

export const JOB_EVENT_TYPES = [
  'JOB_CREATED',
  'JOB_UPDATED',
  'JOB_STATE_CHANGED',
  'JOB_DELETED',
  'EXECUTION_CREATED',
  'EXECUTION_UPDATED',
  'BATCH_COMPLETED',
  'JOB_MOVED_IN',
  'JOB_MOVED_OUT',
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

/** One row of the history ("job transactions"), written in the same transaction as its change. */
export interface JobEvent {
  revision: number;
  jobId: string;
  executionId: string;
  type: JobEventType;
  /** Empty when the event changed no state (a create has no previous state). */
  previousState: JobState | '';
  newState: JobState | '';
  message: string;
  time: number;
  /** Set on BATCH_COMPLETED events; empty otherwise. */
  batchId: string;
}
