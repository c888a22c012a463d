import type { Execution, ExecutionStore, RunResult } from '@jobkeep/api';
import { INITIAL_EXECUTION_STATES, JOB_LIMITS, checkOutputTail } from '@jobkeep/store';
import {
  anyValue,
  enumList,
  enumValue,
  identifier,
  ignored,
  lockGuard,
  message,
  optionalIdentifier,
  pageSize,
  pageToken,
  revision,
  spec,
  text,
  value,
  type FieldRules,
  type ServiceRules,
} from './request-rules.js';

const OUTPUT_ONLY = 'output only';

const newExecution: FieldRules<Execution> = {
  id: optionalIdentifier(),
  jobId: identifier(),
  requesterNodeId: identifier(),
  jobSpec: spec(),
  state: enumValue({ allowed: INITIAL_EXECUTION_STATES }),
  stateMessage: text(JOB_LIMITS.messageLength),
  runResult: ignored('output only on a create: UpdateExecutionState records a run result'),
  revision: ignored(OUTPUT_ONLY),
  createTime: ignored(OUTPUT_ONLY),
  modifyTime: ignored(OUTPUT_ONLY),
};

const outputTail = () => value<string>((tail, path) => void checkOutputTail(path, tail));

const runResult: FieldRules<RunResult> = {
  // Every int32 is an exit code.
  exitCode: anyValue(),
  stdoutTail: outputTail(),
  stderrTail: outputTail(),
};

/** Every field of every jobkeep.v1.ExecutionStore request. */
export const EXECUTION_STORE_REQUESTS: ServiceRules<typeof ExecutionStore> = {
  createExecution: {
    nodeId: identifier(),
    execution: message<Execution>(newExecution, { required: true }),
    requestId: text(JOB_LIMITS.requestIdLength),
    lockGuard: lockGuard(),
  },
  getExecution: {
    nodeId: identifier(),
    executionId: identifier(),
  },
  listExecutions: {
    nodeId: identifier(),
    jobId: optionalIdentifier(),
    states: enumList(),
    requesterNodeId: optionalIdentifier(),
    direction: enumValue(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  updateExecutionState: {
    nodeId: identifier(),
    executionId: identifier(),
    newState: enumValue({ required: true }),
    message: text(JOB_LIMITS.messageLength),
    expectedStates: enumList(),
    expectedRevision: revision(),
    runResult: message<RunResult>(runResult),
    lockGuard: lockGuard(),
  },
  deleteExecution: {
    nodeId: identifier(),
    executionId: identifier(),
    expectedRevision: revision(),
    lockGuard: lockGuard(),
  },
  getExecutionHistory: {
    nodeId: identifier(),
    executionId: optionalIdentifier(),
    fromRevision: revision(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  getCounters: {
    nodeId: identifier(),
  },
  watchExecutions: {
    nodeId: identifier(),
    fromRevision: revision(),
    eventTypes: enumList(),
    states: enumList(),
    jobId: optionalIdentifier(),
  },
};
