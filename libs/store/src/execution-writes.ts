import { alreadyExists, failedPrecondition } from '@jobkeep/errors';
import { newRecordId } from './identifiers.js';
import type { Execution, ExecutionEvent, RunResult } from './execution-model.js';
import { selectExecution, selectExecutionById } from './execution-reads.js';
import type { UpdateExecutionStateInput } from './execution-store.js';
import { checkExecutionTransition, isTerminalExecutionState } from './execution-transitions.js';
import type { NewExecution } from './execution-validation.js';
import { checkWriteConditions } from './job-transitions.js';
import type { NodeDatabase } from './node-database.js';

/*
 * The bodies of the compute database's write transactions. Each runs inside a transaction its
 * caller (the store facade) owns, as the "InTx" suffix says, and appends the history row of its
 * change, so a committed change and its history are never apart. The per-state counters are
 * kept by triggers in the same transaction, so no function here can forget them.
 */

/** Appends one history row and returns its revision, the database-wide change counter. */
export function appendExecutionEventInTx(db: NodeDatabase, event: Omit<ExecutionEvent, 'revision'>): number {
  const result = db
    .statement(
      `INSERT INTO execution_history (execution_id, job_id, type, previous_state, new_state, message, time)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(event.executionId, event.jobId, event.type, event.previousState, event.newState, event.message, event.time);
  return Number(result.lastInsertRowid);
}

export function createExecutionInTx(db: NodeDatabase, execution: NewExecution, now: number): Execution {
  if (execution.requestId !== '') {
    const earlier = db.statement('SELECT record_id FROM request_ids WHERE request_id = ?').get(execution.requestId) as
      | { record_id: string }
      | undefined;
    if (earlier !== undefined) {
      const first = selectExecution(db, earlier.record_id);
      if (first === undefined) {
        throw alreadyExists(`request_id ${execution.requestId} created execution ${earlier.record_id}, which has since been deleted`);
      }
      return first;
    }
  }
  db.admitNewRecords();
  const id = execution.id ?? newRecordId('e');
  if (selectExecution(db, id) !== undefined) throw alreadyExists(`execution ${id} already exists`);

  const revision = appendExecutionEventInTx(db, {
    executionId: id,
    jobId: execution.jobId,
    type: 'CREATED',
    previousState: '',
    newState: execution.state,
    message: execution.stateMessage,
    time: now,
  });
  db.statement(
    `INSERT INTO executions (id, job_id, requester_node_id, state, state_message, revision, create_time, modify_time)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, execution.jobId, execution.requesterNodeId, execution.state, execution.stateMessage, revision, now, now);
  db.statement('INSERT INTO execution_specs (execution_id, job_spec) VALUES (?, ?)').run(id, execution.jobSpecJson);
  if (execution.requestId !== '') {
    db.statement('INSERT INTO request_ids (request_id, record_id, create_time) VALUES (?, ?, ?)').run(execution.requestId, id, now);
  }
  return selectExecutionById(db, id);
}

export function updateExecutionStateInTx(db: NodeDatabase, input: UpdateExecutionStateInput, now: number): Execution {
  const execution = selectExecutionById(db, input.executionId);
  checkWriteConditions(`execution ${execution.id}`, execution, { states: input.expectedStates, revision: input.expectedRevision });
  checkExecutionTransition(execution.id, execution.state, input.newState, execution.revision);
  const message = input.message ?? '';

  const revision = appendExecutionEventInTx(db, {
    executionId: execution.id,
    jobId: execution.jobId,
    type: 'STATE_CHANGED',
    previousState: execution.state,
    newState: input.newState,
    message,
    time: now,
  });
  db.statement('UPDATE executions SET state = ?, state_message = ?, revision = ?, modify_time = ? WHERE id = ?').run(
    input.newState,
    message,
    revision,
    now,
    execution.id,
  );
  if (input.runResult !== undefined) writeRunResultInTx(db, execution.id, input.runResult);
  return selectExecutionById(db, execution.id);
}

/** The run result lives in a row of its own, so that state changes never rewrite the tails. */
function writeRunResultInTx(db: NodeDatabase, executionId: string, result: RunResult): void {
  db.statement(
    `INSERT INTO execution_results (execution_id, exit_code, stdout_tail, stderr_tail) VALUES (?, ?, ?, ?)
     ON CONFLICT (execution_id) DO UPDATE SET
       exit_code = excluded.exit_code, stdout_tail = excluded.stdout_tail, stderr_tail = excluded.stderr_tail`,
  ).run(executionId, result.exitCode, result.stdoutTail, result.stderrTail);
}

export function deleteExecutionInTx(db: NodeDatabase, executionId: string, expectedRevision: number | undefined, now: number): number {
  const execution = selectExecutionById(db, executionId);
  checkWriteConditions(`execution ${executionId}`, execution, { revision: expectedRevision });
  if (!isTerminalExecutionState(execution.state)) {
    throw failedPrecondition(
      `execution ${executionId} is ${execution.state} at revision ${execution.revision}; ` +
        'only a BID_REJECTED, COMPLETED, FAILED or CANCELLED execution can be deleted',
    );
  }
  const revision = appendExecutionEventInTx(db, {
    executionId,
    jobId: execution.jobId,
    type: 'DELETED',
    previousState: execution.state,
    newState: '',
    message: '',
    time: now,
  });
  // The spec snapshot and the run result go with it through ON DELETE CASCADE.
  db.statement('DELETE FROM executions WHERE id = ?').run(executionId);
  return revision;
}
