import { invalidArgument } from '@jobkeep/errors';
import type { RunResult } from './execution-model.js';
import type { NewExecutionInput } from './execution-store.js';
import { INITIAL_EXECUTION_STATES } from './execution-transitions.js';
import { checkIdentifier } from './identifiers.js';
import { EXECUTION_STATES, type ExecutionState, type JsonObject } from './job-model.js';
import { checkMessage, checkOneOf, checkRequestId } from './job-validation.js';

/** Limits on what a compute node may store; each is checked before anything is written. */
export const EXECUTION_LIMITS = {
  /** A job spec snapshot's size once encoded as JSON, in bytes. */
  jobSpecBytes: 256 * 1024,
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

export function checkNewExecution(input: NewExecutionInput): NewExecution {
  const state = checkExecutionState('state', input.state ?? 'CREATED');
  if (!INITIAL_EXECUTION_STATES.includes(state)) {
    throw invalidArgument(`an execution starts in ${INITIAL_EXECUTION_STATES.join(', ')}, not ${state}`);
  }
  return {
    id: input.id === undefined || input.id === '' ? undefined : checkIdentifier('execution id', input.id),
    jobId: checkIdentifier('job_id', input.jobId),
    requesterNodeId: checkIdentifier('requester_node_id', input.requesterNodeId),
    jobSpecJson: encodeJobSpec(input.jobSpec ?? {}),
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
  for (const [field, tail] of [['stdout_tail', result.stdoutTail], ['stderr_tail', result.stderrTail]] as const) {
    const bytes = Buffer.byteLength(tail);
    if (bytes > EXECUTION_LIMITS.tailBytes) {
      // Refused rather than cut: only the agent knows where a tail may be cut without
      // splitting a line or a multi-byte character.
      throw invalidArgument(`run_result.${field} is ${bytes} bytes; the limit is ${EXECUTION_LIMITS.tailBytes}: send the last ${EXECUTION_LIMITS.tailBytes} bytes`);
    }
  }
  return { exitCode: result.exitCode, stdoutTail: result.stdoutTail, stderrTail: result.stderrTail };
}

function encodeJobSpec(spec: JsonObject): string {
  const json = JSON.stringify(spec);
  const bytes = Buffer.byteLength(json);
  if (bytes > EXECUTION_LIMITS.jobSpecBytes) {
    throw invalidArgument(`job_spec is ${bytes} bytes as JSON; the limit is ${EXECUTION_LIMITS.jobSpecBytes}`);
  }
  return json;
}

/** A revision given by a client (from_revision, expected_revision): a non-negative safe integer. */
export function checkRevision(what: string, revision: number): number {
  if (!Number.isSafeInteger(revision) || revision < 0) throw invalidArgument(`${what} must be a revision, not ${revision}`);
  return revision;
}
