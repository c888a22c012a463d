import { DesiredExecutionState, ExecutionState, JobState } from '@jobkeep/api';

/** A protobuf Timestamp as milliseconds since the epoch; 0 when unset. */
export function millis(timestamp: { seconds: bigint; nanos: number } | undefined): number {
  return timestamp === undefined ? 0 : Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000);
}

/** A protobuf Timestamp as an ISO 8601 string, or null when unset. */
export function isoTime(timestamp: { seconds: bigint; nanos: number } | undefined): string | null {
  return timestamp === undefined ? null : new Date(millis(timestamp)).toISOString();
}

export const jobStateName = (state: JobState): string => JobState[state] ?? String(state);
export const executionStateName = (state: ExecutionState): string => ExecutionState[state] ?? String(state);
export const desiredStateName = (state: DesiredExecutionState): string => DesiredExecutionState[state] ?? String(state);

/** A job state from a person: "pending", "PENDING" or "JOB_STATE_PENDING". */
export function parseJobState(text: string): JobState | undefined {
  const name = text.trim().toUpperCase().replace(/^JOB_STATE_/, '');
  const value = (JobState as unknown as Record<string, number | undefined>)[name];
  return value === undefined || name === 'UNSPECIFIED' ? undefined : (value as JobState);
}

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]);

/** Compute states after which an execution never changes again. */
export const TERMINAL_EXECUTION_STATES: ReadonlySet<ExecutionState> = new Set([
  ExecutionState.BID_REJECTED,
  ExecutionState.COMPLETED,
  ExecutionState.FAILED,
  ExecutionState.CANCELLED,
]);

/** Every compute state an execution can leave: the condition of a cancel on the compute side. */
export const NON_TERMINAL_EXECUTION_STATES: readonly ExecutionState[] = [
  ExecutionState.CREATED,
  ExecutionState.BID_ACCEPTED,
  ExecutionState.RUNNING,
  ExecutionState.WAITING_VERIFICATION,
  ExecutionState.RESULT_ACCEPTED,
  ExecutionState.PUBLISHING,
];
