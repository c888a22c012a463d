import {
  DesiredExecutionState,
  ExecutionState,
  JobEventType,
  JobState,
  JobType,
  type Job as WireJob,
  type JobEvent as WireJobEvent,
  type JobExecution as WireJobExecution,
} from '@jobkeep/api';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { JobEventSchema, JobExecutionSchema, JobSchema } from '@jobkeep/api';
import type { Job, JobEvent, JobExecution } from '@jobkeep/store';
import { enumValue, timestamp } from './wire-conversions.js';

/** Store records as wire messages. */

export function jobToWire(job: Job): MessageInitShape<typeof JobSchema> {
  return {
    id: job.id,
    name: job.name,
    namespace: job.namespace,
    type: enumValue<JobType>(JobType, job.type),
    priority: job.priority,
    labels: job.labels,
    queue: job.queue,
    batchId: job.batchId,
    spec: job.spec as WireJob['spec'],
    state: enumValue<JobState>(JobState, job.state),
    stateMessage: job.stateMessage,
    retryCount: job.retryCount,
    revision: BigInt(job.revision),
    version: BigInt(job.version),
    createTime: timestamp(job.createTime),
    modifyTime: timestamp(job.modifyTime),
  };
}

export function jobEventToWire(event: JobEvent): MessageInitShape<typeof JobEventSchema> {
  return {
    revision: BigInt(event.revision),
    jobId: event.jobId,
    executionId: event.executionId,
    type: enumValue<JobEventType>(JobEventType, event.type),
    previousState: enumValue<JobState>(JobState, event.previousState),
    newState: enumValue<JobState>(JobState, event.newState),
    message: event.message,
    time: timestamp(event.time),
  } satisfies Partial<WireJobEvent>;
}

export function executionToWire(execution: JobExecution): MessageInitShape<typeof JobExecutionSchema> {
  return {
    id: execution.id,
    jobId: execution.jobId,
    computeNodeId: execution.computeNodeId,
    desiredState: enumValue<DesiredExecutionState>(DesiredExecutionState, execution.desiredState),
    computeState: enumValue<ExecutionState>(ExecutionState, execution.computeState),
    stateMessage: execution.stateMessage,
    revision: BigInt(execution.revision),
    createTime: timestamp(execution.createTime),
    modifyTime: timestamp(execution.modifyTime),
  } satisfies Partial<WireJobExecution>;
}
