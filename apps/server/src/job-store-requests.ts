import type { Batch, Job, JobClaim, JobExecution, JobStore, RetryPolicy } from '@jobkeep/api';
import { INITIAL_JOB_STATES, JOB_LIMITS, MAX_BATCH_JOBS, checkRetryPolicy } from '@jobkeep/store';
import {
  anyValue,
  enumList,
  enumValue,
  fieldMask,
  handedOut,
  identifier,
  ignored,
  integer,
  labels,
  lockGuard,
  message,
  oneof,
  optionalIdentifier,
  pageSize,
  pageToken,
  repeated,
  revision,
  spec,
  text,
  timestamp,
  type FieldRules,
  type ServiceRules,
} from './request-rules.js';

/** Fields the store sets; a request may carry them (a record read back), and they are ignored. */
const OUTPUT_ONLY = 'output only';
/** The fields UpdateJob's mask may name, by their proto names. */
export const UPDATABLE_JOB_FIELDS = ['name', 'spec', 'labels', 'priority', 'queue', 'batch_id'] as const;
const NOT_UPDATABLE = 'UpdateJob changes only the fields of its mask';

const stateMessage = () => text(JOB_LIMITS.messageLength);

const retryPolicy = () =>
  message<RetryPolicy>(
    {
      maxRetries: integer(0, JOB_LIMITS.maxRetries),
      backoffMs: integer(0, JOB_LIMITS.backoffMs),
      maxBackoffMs: integer(0, JOB_LIMITS.backoffMs),
    },
    { across: (policy, path) => void checkRetryPolicy(policy, path) },
  );

/** A job as CreateJob and CreateBatch take it. */
const newJob: FieldRules<Job> = {
  id: optionalIdentifier(),
  name: optionalIdentifier(),
  namespace: optionalIdentifier(),
  type: enumValue(),
  // Every int32 is a priority.
  priority: anyValue(),
  labels: labels('a job'),
  queue: optionalIdentifier(),
  batchId: optionalIdentifier(),
  spec: spec(),
  state: enumValue({ allowed: INITIAL_JOB_STATES }),
  stateMessage: stateMessage(),
  retryCount: ignored(OUTPUT_ONLY),
  revision: ignored(OUTPUT_ONLY),
  version: ignored(OUTPUT_ONLY),
  createTime: ignored(OUTPUT_ONLY),
  modifyTime: ignored(OUTPUT_ONLY),
  dedupeKey: text(JOB_LIMITS.dedupeKeyLength),
  retryPolicy: retryPolicy(),
  retryTime: ignored(OUTPUT_ONLY),
  lastSuccessfulQueue: ignored(OUTPUT_ONLY),
  claim: ignored(OUTPUT_ONLY),
};

/** A job as UpdateJob takes it: its id, and the values of the fields its mask may name. */
const changedJob: FieldRules<Job> = {
  ...newJob,
  id: identifier(),
  type: ignored(NOT_UPDATABLE),
  state: ignored(NOT_UPDATABLE),
  stateMessage: ignored(NOT_UPDATABLE),
  dedupeKey: ignored(NOT_UPDATABLE),
  retryPolicy: ignored(NOT_UPDATABLE),
};

const newBatch: FieldRules<Batch> = {
  id: optionalIdentifier(),
  namespace: optionalIdentifier(),
  labels: labels('a batch'),
  counts: ignored(OUTPUT_ONLY),
  total: ignored(OUTPUT_ONLY),
  completed: ignored(OUTPUT_ONLY),
  completeRevision: ignored(OUTPUT_ONLY),
  createTime: ignored(OUTPUT_ONLY),
  completeTime: ignored(OUTPUT_ONLY),
};

const newExecution: FieldRules<JobExecution> = {
  id: optionalIdentifier(),
  jobId: identifier(),
  computeNodeId: identifier(),
  desiredState: enumValue(),
  computeState: enumValue(),
  stateMessage: stateMessage(),
  revision: ignored(OUTPUT_ONLY),
  createTime: ignored(OUTPUT_ONLY),
  modifyTime: ignored(OUTPUT_ONLY),
};

const claimProof: FieldRules<JobClaim> = {
  leaseId: handedOut('the lease id the job was claimed with'),
  token: handedOut('the token ClaimJob gave'),
  worker: ignored(OUTPUT_ONLY),
  claimTime: ignored(OUTPUT_ONLY),
};

const requestId = () => text(JOB_LIMITS.requestIdLength);

/** Every field of every jobkeep.v1.JobStore request. */
export const JOB_STORE_REQUESTS: ServiceRules<typeof JobStore> = {
  createJob: {
    nodeId: identifier(),
    job: message<Job>(newJob, { required: true }),
    requestId: requestId(),
    lockGuard: lockGuard(),
    onDuplicate: enumValue(),
  },
  getJob: {
    nodeId: identifier(),
    key: oneof({ id: identifier(), idPrefix: identifier(), name: identifier() }, { required: true }),
    namespace: optionalIdentifier(),
  },
  listJobs: {
    nodeId: identifier(),
    states: enumList(),
    namespace: optionalIdentifier(),
    labelSelector: labels('a label selector'),
    queue: optionalIdentifier(),
    batchId: optionalIdentifier(),
    createdAfter: timestamp(),
    createdBefore: timestamp(),
    modifiedAfter: timestamp(),
    modifiedBefore: timestamp(),
    orderBy: enumValue(),
    direction: enumValue(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  updateJob: {
    nodeId: identifier(),
    job: message<Job>(changedJob, { required: true }),
    updateMask: fieldMask(UPDATABLE_JOB_FIELDS),
    expectedRevision: revision(),
    lockGuard: lockGuard(),
  },
  updateJobState: {
    nodeId: identifier(),
    jobId: identifier(),
    newState: enumValue({ required: true }),
    message: stateMessage(),
    expectedStates: enumList(),
    expectedRevision: revision(),
    executionId: optionalIdentifier(),
    lockGuard: lockGuard(),
    claim: message<JobClaim>(claimProof),
    nextQueue: optionalIdentifier(),
  },
  deleteJob: {
    nodeId: identifier(),
    jobId: identifier(),
    expectedRevision: revision(),
    lockGuard: lockGuard(),
  },
  getJobHistory: {
    nodeId: identifier(),
    jobId: optionalIdentifier(),
    executionId: optionalIdentifier(),
    fromRevision: revision(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  createExecution: {
    nodeId: identifier(),
    execution: message<JobExecution>(newExecution, { required: true }),
    requestId: requestId(),
    lockGuard: lockGuard(),
  },
  updateExecution: {
    nodeId: identifier(),
    executionId: identifier(),
    desiredState: enumValue(),
    computeState: enumValue(),
    message: stateMessage(),
    expectedDesiredStates: enumList(),
    expectedRevision: revision(),
    lockGuard: lockGuard(),
  },
  listExecutions: {
    nodeId: identifier(),
    jobId: identifier(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  watchJobs: {
    nodeId: identifier(),
    fromRevision: revision(),
    eventTypes: enumList(),
    states: enumList(),
    jobId: optionalIdentifier(),
  },
  claimJob: {
    nodeId: identifier(),
    queue: optionalIdentifier(),
    leaseId: handedOut('a lease id from Grant'),
    worker: text(JOB_LIMITS.workerLength),
  },
  holdJob: {
    nodeId: identifier(),
    jobId: identifier(),
    message: stateMessage(),
    expectedRevision: revision(),
    lockGuard: lockGuard(),
  },
  releaseJob: {
    nodeId: identifier(),
    jobId: identifier(),
    message: stateMessage(),
    expectedRevision: revision(),
    lockGuard: lockGuard(),
  },
  holdQueue: {
    nodeId: identifier(),
    queue: optionalIdentifier(),
    message: stateMessage(),
    lockGuard: lockGuard(),
  },
  releaseQueue: {
    nodeId: identifier(),
    queue: optionalIdentifier(),
    lockGuard: lockGuard(),
  },
  listQueueHolds: {
    nodeId: identifier(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  createBatch: {
    nodeId: identifier(),
    batch: message<Batch>(newBatch),
    jobs: repeated(MAX_BATCH_JOBS, message<Job>(newJob), 'add more jobs to the batch with CreateJob and its batch_id'),
    requestId: requestId(),
    onDuplicate: enumValue(),
    lockGuard: lockGuard(),
  },
  getBatch: {
    nodeId: identifier(),
    batchId: identifier(),
  },
  listBatches: {
    nodeId: identifier(),
    namespace: optionalIdentifier(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  getBatchReport: {
    nodeId: identifier(),
    batchId: identifier(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
};
