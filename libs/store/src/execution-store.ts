import type { ExecutionCounters, Execution, ExecutionEvent, RunResult } from './execution-model.js';
import type { ExecutionState, JsonObject } from './job-model.js';
import type { Page, PageRequest } from './job-store.js';
import type { LockGuard } from './lock-guard-check.js';

/**
 * What the services need of a compute database. Like JobStore, every method returns a promise
 * (a write waits for its commit) and takes the compute node's id first, so that an
 * implementation on a networked database fits behind the same interface. Every write takes an
 * optional lock guard, as JobStore's do.
 */
export interface ExecutionStore {
  createExecution(nodeId: string, input: NewExecutionInput): Promise<Execution>;
  getExecution(nodeId: string, executionId: string): Promise<Execution>;
  listExecutions(nodeId: string, query: ExecutionListQuery): Promise<Page<Execution>>;
  updateExecutionState(nodeId: string, input: UpdateExecutionStateInput): Promise<Execution>;
  /** Deletes a terminal execution; returns the revision of the deletion. */
  deleteExecution(nodeId: string, executionId: string, expectedRevision?: number, lockGuard?: LockGuard): Promise<number>;
  getExecutionHistory(nodeId: string, query: ExecutionHistoryQuery): Promise<Page<ExecutionEvent>>;
  /** Read from counters kept with every change, never from a scan of the executions. */
  getCounters(nodeId: string): Promise<ExecutionCounters>;
}

export interface NewExecutionInput {
  /** Assigned by the store ("e-" and a UUID) when absent or empty. */
  id?: string;
  jobId: string;
  requesterNodeId: string;
  /** At most StoreLimits.maxSpecBytes once encoded as JSON. */
  jobSpec?: JsonObject;
  /** CREATED, the default, is the only state an execution may start in. */
  state?: ExecutionState;
  stateMessage?: string;
  /** A retried create with the same request id returns the execution the first one made. */
  requestId?: string;
  /** Made only while this lock is held with this token; ABORTED otherwise. */
  lockGuard?: LockGuard;
}

export interface ExecutionListQuery extends PageRequest {
  jobId?: string;
  /** Any of these states; all when empty. */
  states?: ExecutionState[];
  requesterNodeId?: string;
  /** By modify time, then id; oldest first unless descending. */
  descending?: boolean;
}

export interface UpdateExecutionStateInput {
  executionId: string;
  newState: ExecutionState;
  message?: string;
  /** The change is made only if the execution is in one of these (when not empty). */
  expectedStates?: ExecutionState[];
  /** The change is made only if the execution is still at this revision. */
  expectedRevision?: number;
  /** Replaces the stored run result when given. */
  runResult?: RunResult;
  /** Made only while this lock is held with this token; ABORTED otherwise. */
  lockGuard?: LockGuard;
}

export interface ExecutionHistoryQuery extends PageRequest {
  /** One execution's history; the whole database's when absent or empty. */
  executionId?: string;
  /** Events at or after this revision. */
  fromRevision?: number;
}
