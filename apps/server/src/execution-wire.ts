import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  ExecutionEventType,
  ExecutionState,
  type Execution as WireExecution,
  type ExecutionEventSchema,
  type ExecutionSchema,
  type GetCountersResponseSchema,
  type RunResult as WireRunResult,
} from '@jobkeep/api';
import { EXECUTION_STATES, type Execution, type ExecutionCounters, type ExecutionEvent, type RunResult } from '@jobkeep/store';
import { enumValue, timestamp } from './wire-conversions.js';

/** Compute store records as wire messages, and wire run results as the store's. */

export function executionToWire(execution: Execution): MessageInitShape<typeof ExecutionSchema> {
  return {
    id: execution.id,
    jobId: execution.jobId,
    requesterNodeId: execution.requesterNodeId,
    jobSpec: execution.jobSpec as WireExecution['jobSpec'],
    state: enumValue<ExecutionState>(ExecutionState, execution.state),
    stateMessage: execution.stateMessage,
    runResult: execution.runResult,
    revision: BigInt(execution.revision),
    createTime: timestamp(execution.createTime),
    modifyTime: timestamp(execution.modifyTime),
  };
}

export function executionEventToWire(event: ExecutionEvent): MessageInitShape<typeof ExecutionEventSchema> {
  return {
    revision: BigInt(event.revision),
    executionId: event.executionId,
    jobId: event.jobId,
    type: enumValue<ExecutionEventType>(ExecutionEventType, event.type),
    previousState: enumValue<ExecutionState>(ExecutionState, event.previousState),
    newState: enumValue<ExecutionState>(ExecutionState, event.newState),
    message: event.message,
    time: timestamp(event.time),
  };
}

/** Every state, in the order of the ExecutionState enum, as the response promises. */
export function countersToWire(counters: ExecutionCounters): MessageInitShape<typeof GetCountersResponseSchema> {
  return {
    counts: EXECUTION_STATES.map((state) => ({
      state: enumValue<ExecutionState>(ExecutionState, state),
      count: BigInt(counters.counts[state]),
    })),
    revision: BigInt(counters.revision),
  };
}

export function runResultFromWire(result: WireRunResult | undefined): RunResult | undefined {
  return result === undefined ? undefined : { exitCode: result.exitCode, stdoutTail: result.stdoutTail, stderrTail: result.stderrTail };
}
