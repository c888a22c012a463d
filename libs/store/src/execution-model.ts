import type { ExecutionState, JsonObject } from './job-model.js';

/**
 * A compute node's records, as the store hands them out: plain data, no wire types. The states
 * themselves (EXECUTION_STATES) live in job-model.ts, since the requester's view of an
 * execution reports the same ones.
 */

export const TERMINAL_EXECUTION_STATES: ReadonlySet<ExecutionState> = new Set([
  'BID_REJECTED',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
]);

/** What a finished run left behind, bounded (see EXECUTION_LIMITS) so that a record stays small. */
export interface RunResult {
  exitCode: number;
  stdoutTail: string;
  stderrTail: string;
}

export interface Execution {
  id: string;
  jobId: string;
  /** The requester node that asked for this execution. */
  requesterNodeId: string;
  /** The job's spec as it was when the execution was created; never changes afterwards. */
  jobSpec: JsonObject;
  state: ExecutionState;
  stateMessage: string;
  /** Absent until a state change reports one. */
  runResult: RunResult | undefined;
  revision: number;
  /** Milliseconds since the Unix epoch. */
  createTime: number;
  modifyTime: number;
}

export const EXECUTION_EVENT_TYPES = ['CREATED', 'STATE_CHANGED', 'DELETED'] as const;
export type ExecutionEventType = (typeof EXECUTION_EVENT_TYPES)[number];

/** One row of the compute database's history, written in the same transaction as its change. */
export interface ExecutionEvent {
  revision: number;
  executionId: string;
  jobId: string;
  type: ExecutionEventType;
  /** Empty for a create, which has no previous state. */
  previousState: ExecutionState | '';
  /** Empty for a delete, which leaves no state. */
  newState: ExecutionState | '';
  message: string;
  time: number;
}

/** How many executions are in each state (every state, zeros included) as of `revision`. */
export interface ExecutionCounters {
  counts: Record<ExecutionState, number>;
  revision: number;
}
