import {
  DesiredExecutionState,
  ExecutionState,
  JobEventType,
  JobOrder,
  JobState,
  SortDirection,
  type CreateJobRequest,
  type DeleteJobRequest,
  type GetJobHistoryRequest,
  type GetJobRequest,
  type JobStoreCreateExecutionRequest,
  type JobStoreListExecutionsRequest,
  type JobStoreUpdateExecutionRequest,
  type ListJobsRequest,
  type UpdateJobRequest,
  type UpdateJobStateRequest,
} from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import type {
  DesiredExecutionState as StoreDesiredState,
  ExecutionState as StoreExecutionState,
  JobChanges,
  JobKey,
  JobQuery,
  JobState as StoreJobState,
  JobStore,
  JsonObject,
  JobHistoryFeed,
} from '@jobkeep/store';
import type { WatchSettings } from './history-watch.js';
import { watchHandler } from './watch-handler.js';
import { lockGuardFromWire } from './lock-guard-wire.js';
import { storeNumber } from './coordination-wire.js';
import { createJobFields, onDuplicate } from './job-input-wire.js';
import { executionToWire, jobEventToWire, jobToWire } from './job-wire.js';
import { enumName, enumNames, milliseconds, required, requiredEnumName, revisionNumber } from './wire-conversions.js';

/**
 * jobkeep.v1.JobStore: each handler turns its request into a store call and the stored record
 * back into a response. Requests arrive checked against their rules (job-store-requests.ts);
 * the store checks content again for its other callers.
 */
export function jobStoreHandlers(store: JobStore, watch: { history: JobHistoryFeed; settings: WatchSettings }) {
  return {
    async createJob(request: CreateJobRequest) {
      const created = await store.createJob(request.nodeId, {
        ...createJobFields(required(request.job, 'job'), 'job'),
        requestId: request.requestId,
        lockGuard: lockGuardFromWire(request.lockGuard),
        onDuplicate: onDuplicate(request.onDuplicate),
      });
      return { job: jobToWire(created.job), existing: created.existing };
    },

    async getJob(request: GetJobRequest) {
      return { job: jobToWire(await store.getJob(request.nodeId, jobKey(request))) };
    },

    async listJobs(request: ListJobsRequest) {
      const page = await store.listJobs(request.nodeId, jobQuery(request));
      return { jobs: page.items.map(jobToWire), nextPageToken: page.nextPageToken };
    },

    async updateJob(request: UpdateJobRequest) {
      const job = required(request.job, 'job');
      const updated = await store.updateJob(request.nodeId, {
        jobId: job.id,
        changes: jobChanges(request),
        expectedRevision: revisionNumber(request.expectedRevision, 'expected_revision'),
        lockGuard: lockGuardFromWire(request.lockGuard),
      });
      return { job: jobToWire(updated) };
    },

    async updateJobState(request: UpdateJobStateRequest) {
      const job = await store.updateJobState(request.nodeId, {
        jobId: request.jobId,
        newState: requiredEnumName<StoreJobState>(JobState, request.newState, 'new_state'),
        message: request.message,
        expectedStates: enumNames<StoreJobState>(JobState, request.expectedStates, 'expected_states'),
        expectedRevision: revisionNumber(request.expectedRevision, 'expected_revision'),
        executionId: request.executionId,
        lockGuard: lockGuardFromWire(request.lockGuard),
        claim: request.claim && {
          leaseId: storeNumber(request.claim.leaseId, 'claim.lease_id'),
          token: storeNumber(request.claim.token, 'claim.token'),
        },
        nextQueue: request.nextQueue,
      });
      return { job: jobToWire(job) };
    },

    async deleteJob(request: DeleteJobRequest) {
      const revision = await store.deleteJob(
        request.nodeId,
        request.jobId,
        revisionNumber(request.expectedRevision, 'expected_revision'),
        lockGuardFromWire(request.lockGuard),
      );
      return { revision: BigInt(revision) };
    },

    async getJobHistory(request: GetJobHistoryRequest) {
      const page = await store.getJobHistory(request.nodeId, {
        jobId: request.jobId,
        executionId: request.executionId,
        fromRevision: revisionNumber(request.fromRevision, 'from_revision'),
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { events: page.items.map(jobEventToWire), nextPageToken: page.nextPageToken };
    },

    async createExecution(request: JobStoreCreateExecutionRequest) {
      const execution = required(request.execution, 'execution');
      const created = await store.createExecution(request.nodeId, {
        id: execution.id,
        jobId: execution.jobId,
        computeNodeId: execution.computeNodeId,
        desiredState: enumName<StoreDesiredState>(DesiredExecutionState, execution.desiredState, 'desired_state'),
        computeState: enumName<StoreExecutionState>(ExecutionState, execution.computeState, 'compute_state'),
        stateMessage: execution.stateMessage,
        requestId: request.requestId,
        lockGuard: lockGuardFromWire(request.lockGuard),
      });
      return { execution: executionToWire(created) };
    },

    async updateExecution(request: JobStoreUpdateExecutionRequest) {
      const updated = await store.updateExecution(request.nodeId, {
        executionId: request.executionId,
        desiredState: enumName<StoreDesiredState>(DesiredExecutionState, request.desiredState, 'desired_state'),
        computeState: enumName<StoreExecutionState>(ExecutionState, request.computeState, 'compute_state'),
        message: request.message,
        expectedDesiredStates: enumNames<StoreDesiredState>(
          DesiredExecutionState,
          request.expectedDesiredStates,
          'expected_desired_states',
        ),
        expectedRevision: revisionNumber(request.expectedRevision, 'expected_revision'),
        lockGuard: lockGuardFromWire(request.lockGuard),
      });
      return { execution: executionToWire(updated) };
    },

    async listExecutions(request: JobStoreListExecutionsRequest) {
      const page = await store.listExecutions(request.nodeId, {
        jobId: request.jobId,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { executions: page.items.map(executionToWire), nextPageToken: page.nextPageToken };
    },

    watchJobs: watchHandler(watch.history, { eventTypes: JobEventType, states: JobState, event: jobEventToWire }, watch.settings),
  };
}

function jobKey(request: GetJobRequest): JobKey {
  switch (request.key.case) {
    case 'id':
      return { id: request.key.value };
    case 'idPrefix':
      return { idPrefix: request.key.value };
    case 'name':
      return { name: request.key.value, namespace: request.namespace };
    default:
      throw invalidArgument('one of id, id_prefix or name is required');
  }
}

function jobQuery(request: ListJobsRequest): JobQuery {
  const orderBy = enumName<'CREATE_TIME' | 'MODIFY_TIME'>(JobOrder, request.orderBy, 'order_by');
  const direction = enumName<'ASCENDING' | 'DESCENDING'>(SortDirection, request.direction, 'direction');
  return {
    states: enumNames<StoreJobState>(JobState, request.states, 'states'),
    namespace: request.namespace,
    labelSelector: request.labelSelector,
    queue: request.queue,
    batchId: request.batchId,
    created: { from: milliseconds(request.createdAfter), to: milliseconds(request.createdBefore) },
    modified: { from: milliseconds(request.modifiedAfter), to: milliseconds(request.modifiedBefore) },
    orderBy: orderBy === 'MODIFY_TIME' ? 'modifyTime' : 'createTime',
    descending: direction === 'DESCENDING',
    pageSize: request.pageSize,
    pageToken: request.pageToken,
  };
}

/** The changes the update mask names; its rule (job-store-requests.ts) admits only UPDATABLE_JOB_FIELDS. */
function jobChanges(request: UpdateJobRequest): JobChanges {
  const job = required(request.job, 'job');
  const changes: JobChanges = {};
  for (const path of request.updateMask?.paths ?? []) {
    switch (path) {
      case 'name':
        changes.name = job.name;
        break;
      case 'spec':
        changes.spec = (job.spec ?? {}) as JsonObject;
        break;
      case 'labels':
        changes.labels = job.labels;
        break;
      case 'priority':
        changes.priority = job.priority;
        break;
      case 'queue':
        changes.queue = job.queue;
        break;
      case 'batch_id':
        changes.batchId = job.batchId;
        break;
    }
  }
  return changes;
}
