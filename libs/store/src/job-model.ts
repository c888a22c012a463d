/** The requester's records, as the store hands them out: plain data, no wire types. */

export const JOB_STATES = ['PENDING', 'QUEUED', 'RUNNING', 'HELD', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

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
}
