import { invalidArgument } from '@jobkeep/errors';
import type { RunResult } from './execution-model.js';
import type { NewExecutionInput } from './execution-store.js';
import { INITIAL_EXECUTION_STATES } from './execution-transitions.js';
import { checkIdentifier } from './identifiers.js';
import { EXECUTION_STATES, type ExecutionState } from './job-model.js';
import { checkMessage, checkOneOf, checkRequestId, encodeSpec } from './job-validation.js';

/**
 * Limits on what a compute node may store; each is checked before anything is written. The job
 * spec snapshot's size is a setting of the deployment instead (StoreLimits.maxSpecBytes).
 */
export const EXECUTION_LIMITS = {
  /** Each output tail of a run result, in UTF-8 bytes. */
  tailBytes: 4 * 1024,
} as const;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** An execution as it will be inserted: every field present and checked, the spec encoded. */
export interface NewExecution {
  /** Absent when the store is to assign one. */
  id: string | undefined;
  jobId: string;
  requesterNodeId: string;
  jobSpecJson: string;
  state: ExecutionState;
  stateMessage: string;
  requestId: string;
}

export function checkNewExecution(input: NewExecutionInput, maxSpecBytes: number): NewExecution {
  const state = checkExecutionState('state', input.state ?? 'CREATED');
  if (!INITIAL_EXECUTION_STATES.includes(state)) {
    throw invalidArgument(`an execution starts in ${INITIAL_EXECUTION_STATES.join(', ')}, not ${state}`);
  }
  return {
    id: input.id === undefined || input.id === '' ? undefined : checkIdentifier('execution id', input.id),
    jobId: checkIdentifier('job_id', input.jobId),
    requesterNodeId: checkIdentifier('requester_node_id', input.requesterNodeId),
    jobSpecJson: encodeSpec('job_spec', input.jobSpec ?? {}, maxSpecBytes),
    state,
    stateMessage: checkMessage(input.stateMessage),
    requestId: checkRequestId(input.requestId),
  };
}

export function checkExecutionState(what: string, state: string): ExecutionState {
  return checkOneOf(what, EXECUTION_STATES, state);
}

export function checkRunResult(result: RunResult): RunResult {
  if (!Number.isInteger(result.exitCode) || result.exitCode < INT32_MIN || result.exitCode > INT32_MAX) {
    throw invalidArgument(`run_result.exit_code must be a 32-bit integer, not ${result.exitCode}`);
  }
  checkOutputTail('run_result.stdout_tail', result.stdoutTail);
  checkOutputTail('run_result.stderr_tail', result.stderrTail);
  return { exitCode: result.exitCode, stdoutTail: result.stdoutTail, stderrTail: result.stderrTail };
}

/** An output tail of a run result, up to EXECUTION_LIMITS.tailBytes of UTF-8. */
export function checkOutputTail(what: string, tail: string): string {
  const bytes = Buffer.byteLength(tail);
  if (bytes > EXECUTION_LIMITS.tailBytes) {
    // Refused rather than cut: only the agent knows where a tail may be cut without
    // splitting a line or a multi-byte character.
    throw invalidArgument(`${what} is ${bytes} bytes; the limit is ${EXECUTION_LIMITS.tailBytes}: send the last ${EXECUTION_LIMITS.tailBytes} bytes`);
  }
  return tail;
}

/** A revision given by a client (from_revision, expected_revision): a non-negative safe integer. */
export function checkRevision(what: string, revision: number): number {
  if (!Number.isSafeInteger(revision) || revision < 0) throw invalidArgument(`${what} must be a revision, not ${revision}`);
  return revision;
}
