import { failedPrecondition } from '@jobkeep/errors';
import type { ExecutionState } from './job-model.js';
import { TERMINAL_EXECUTION_STATES } from './execution-model.js';

/**
 * The compute node's state machine, from the compute-node design: a bid is accepted or
 * rejected, an accepted one runs, and a run may pass through verification and publishing before
 * it completes. Anything not yet terminal may fail or be cancelled; terminal states lead nowhere.
 */
export const EXECUTION_TRANSITIONS: Readonly<Record<ExecutionState, readonly ExecutionState[]>> = {
  CREATED: ['BID_ACCEPTED', 'BID_REJECTED', 'FAILED', 'CANCELLED'],
  BID_ACCEPTED: ['RUNNING', 'FAILED', 'CANCELLED'],
  BID_REJECTED: [],
  RUNNING: ['WAITING_VERIFICATION', 'PUBLISHING', 'COMPLETED', 'FAILED', 'CANCELLED'],
  WAITING_VERIFICATION: ['RESULT_ACCEPTED', 'FAILED', 'CANCELLED'],
  RESULT_ACCEPTED: ['PUBLISHING', 'COMPLETED', 'FAILED', 'CANCELLED'],
  PUBLISHING: ['COMPLETED', 'FAILED', 'CANCELLED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
};

/** An execution is created when a requester asks for a bid, so it always starts here. */
export const INITIAL_EXECUTION_STATES: readonly ExecutionState[] = ['CREATED'];

export function isTerminalExecutionState(state: ExecutionState): boolean {
  return TERMINAL_EXECUTION_STATES.has(state);
}

export function checkExecutionTransition(executionId: string, from: ExecutionState, to: ExecutionState, revision: number): void {
  if (EXECUTION_TRANSITIONS[from].includes(to)) return;
  const why = isTerminalExecutionState(from)
    ? `${from} is terminal`
    : `allowed from ${from}: ${EXECUTION_TRANSITIONS[from].join(', ')}`;
  throw failedPrecondition(`execution ${executionId} cannot move from ${from} to ${to} (${why}); current revision ${revision}`);
}
