import { failedPrecondition } from '@jobkeep/errors';
import { TERMINAL_JOB_STATES, type DesiredExecutionState, type JobState } from './job-model.js';

/**
 * The moves a job may make. RUNNING → QUEUED is a retry (the retry count goes up); the three
 * terminal states lead nowhere.
 */
const JOB_TRANSITIONS: Record<JobState, readonly JobState[]> = {
  PENDING: ['QUEUED', 'RUNNING', 'HELD', 'FAILED', 'CANCELLED'],
  QUEUED: ['PENDING', 'RUNNING', 'HELD', 'FAILED', 'CANCELLED'],
  RUNNING: ['QUEUED', 'HELD', 'COMPLETED', 'FAILED', 'CANCELLED'],
  HELD: ['PENDING', 'QUEUED', 'FAILED', 'CANCELLED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
};

export const INITIAL_JOB_STATES: readonly JobState[] = ['PENDING', 'QUEUED', 'HELD'];

export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state);
}

export function checkJobTransition(jobId: string, from: JobState, to: JobState, revision: number): void {
  if (JOB_TRANSITIONS[from].includes(to)) return;
  const why = isTerminalJobState(from)
    ? `${from} is terminal`
    : `allowed from ${from}: ${JOB_TRANSITIONS[from].join(', ')}`;
  throw failedPrecondition(`job ${jobId} cannot move from ${from} to ${to} (${why}); current revision ${revision}`);
}

const DESIRED_TRANSITIONS: Record<DesiredExecutionState, readonly DesiredExecutionState[]> = {
  PENDING: ['RUNNING', 'STOPPED'],
  RUNNING: ['STOPPED'],
  STOPPED: [],
};

export function checkDesiredExecutionTransition(
  executionId: string,
  from: DesiredExecutionState,
  to: DesiredExecutionState,
  revision: number,
): void {
  if (from === to || DESIRED_TRANSITIONS[from].includes(to)) return;
  throw failedPrecondition(
    `execution ${executionId} cannot be asked to go from ${from} to ${to}; current revision ${revision}`,
  );
}

/**
 * The conditions of a conditional write: FAILED_PRECONDITION naming the current state and
 * revision when the record is not in an expected state or has moved past the expected revision.
 */
export function checkWriteConditions<S extends string>(
  what: string,
  current: { state: S; revision: number },
  expected: { states?: readonly S[] | undefined; revision?: number | undefined },
): void {
  if (expected.revision !== undefined && expected.revision !== current.revision) {
    throw failedPrecondition(
      `${what} is ${current.state} at revision ${current.revision}, not at the expected revision ${expected.revision}`,
    );
  }
  if (expected.states !== undefined && expected.states.length > 0 && !expected.states.includes(current.state)) {
    throw failedPrecondition(
      `${what} is ${current.state} at revision ${current.revision}, not in an expected state (${expected.states.join(', ')})`,
    );
  }
}
