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
import type { BatchSchema, FailedJobSchema, JobEventSchema, JobExecutionSchema, JobSchema, QueueHoldSchema } from '@jobkeep/api';
import type { Batch, FailedJob, Job, JobEvent, JobExecution, JobState as StoreJobState, QueueHold } from '@jobkeep/store';
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
    dedupeKey: job.dedupeKey,
    retryPolicy: job.retryPolicy,
    retryTime: job.retryTime === 0 ? undefined : timestamp(job.retryTime),
    lastSuccessfulQueue: job.lastSuccessfulQueue,
    claim: job.claim && {
      leaseId: BigInt(job.claim.leaseId),
      token: BigInt(job.claim.token),
      worker: job.claim.worker,
      claimTime: timestamp(job.claim.claimTime),
    },
  };
}

export function batchToWire(batch: Batch): MessageInitShape<typeof BatchSchema> {
  return {
    id: batch.id,
    namespace: batch.namespace,
    labels: batch.labels,
    counts: Object.entries(batch.counts).map(([state, count]) => ({
      state: enumValue<JobState>(JobState, state as StoreJobState),
      count: BigInt(count),
    })),
    total: BigInt(batch.total),
    completed: batch.completed,
    completeRevision: BigInt(batch.completeRevision),
    createTime: timestamp(batch.createTime),
    completeTime: batch.completeTime === 0 ? undefined : timestamp(batch.completeTime),
  };
}

export function failedJobToWire(job: FailedJob): MessageInitShape<typeof FailedJobSchema> {
  return { ...job, failTime: timestamp(job.failTime) };
}

export function queueHoldToWire(hold: QueueHold): MessageInitShape<typeof QueueHoldSchema> {
  return { queue: hold.queue, message: hold.message, holdTime: timestamp(hold.holdTime) };
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
    batchId: event.batchId,
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
