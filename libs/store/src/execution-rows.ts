import type { Execution, ExecutionEvent, ExecutionEventType } from './execution-model.js';
import type { ExecutionState } from './job-model.js';

/** An execution as SQLite returns it from EXECUTION_COLUMNS and EXECUTION_FROM. */
export interface ExecutionRow {
  id: string;
  job_id: string;
  requester_node_id: string;
  state: ExecutionState;
  state_message: string;
  revision: number;
  create_time: number;
  modify_time: number;
  job_spec: string;
  /** Null, like the tails, until a run result is stored. */
  exit_code: number | null;
  stdout_tail: string | null;
  stderr_tail: string | null;
}

/** The columns of a whole execution: the volatile row, its spec snapshot and its run result. */
export const EXECUTION_COLUMNS = `e.id, e.job_id, e.requester_node_id, e.state, e.state_message, e.revision,
  e.create_time, e.modify_time, s.job_spec, r.exit_code, r.stdout_tail, r.stderr_tail`;

/** What joins an execution row (`e`) to its spec snapshot and its run result. */
export const EXECUTION_JOINS = `JOIN execution_specs s ON s.execution_id = e.id
  LEFT JOIN execution_results r ON r.execution_id = e.id`;

export const EXECUTION_FROM = `executions e ${EXECUTION_JOINS}`;

export function executionFromRow(row: ExecutionRow): Execution {
  return {
    id: row.id,
    jobId: row.job_id,
    requesterNodeId: row.requester_node_id,
    jobSpec: JSON.parse(row.job_spec) as Execution['jobSpec'],
    state: row.state,
    stateMessage: row.state_message,
    runResult:
      row.exit_code === null
        ? undefined
        : { exitCode: row.exit_code, stdoutTail: row.stdout_tail ?? '', stderrTail: row.stderr_tail ?? '' },
    revision: row.revision,
    createTime: row.create_time,
    modifyTime: row.modify_time,
  };
}

export interface ExecutionEventRow {
  revision: number;
  execution_id: string;
  job_id: string;
  type: ExecutionEventType;
  previous_state: ExecutionState | '';
  new_state: ExecutionState | '';
  message: string;
  time: number;
}

export const EXECUTION_EVENT_COLUMNS = 'revision, execution_id, job_id, type, previous_state, new_state, message, time';

export function executionEventFromRow(row: ExecutionEventRow): ExecutionEvent {
  return {
    revision: row.revision,
    executionId: row.execution_id,
    jobId: row.job_id,
    type: row.type,
    previousState: row.previous_state,
    newState: row.new_state,
    message: row.message,
    time: row.time,
  };
}
