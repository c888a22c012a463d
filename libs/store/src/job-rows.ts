import type { Job, JobEvent, JobEventType, JobExecution, JobState, JobType } from './job-model.js';

/** A job as SQLite returns it from JOB_COLUMNS. */
export interface JobRow {
  id: string;
  namespace: string;
  name: string | null;
  type: JobType;
  priority: number;
  queue: string;
  batch_id: string;
  state: JobState;
  state_message: string;
  retry_count: number;
  revision: number;
  version: number;
  create_time: number;
  modify_time: number;
  dedupe_key: string | null;
  max_retries: number;
  backoff_ms: number;
  max_backoff_ms: number;
  retry_time: number;
  last_successful_queue: string;
  claim_lease_id: number | null;
  claim_token: number | null;
  claim_worker: string | null;
  claim_time: number | null;
  spec: string;
  labels: string;
}

/** The columns of a whole job: the volatile row joined with its static part. */
export const JOB_COLUMNS = `j.id, j.namespace, j.name, j.type, j.priority, j.queue, j.batch_id, j.state,
  j.state_message, j.retry_count, j.revision, j.version, j.create_time, j.modify_time, j.dedupe_key, j.max_retries,
  j.backoff_ms, j.max_backoff_ms, j.retry_time, j.last_successful_queue, j.claim_lease_id, j.claim_token,
  j.claim_worker, j.claim_time, s.spec, s.labels`;

export const JOB_FROM = 'jobs j JOIN job_specs s ON s.job_id = j.id';

export function jobFromRow(row: JobRow): Job {
  return {
    id: row.id,
    name: row.name ?? '',
    namespace: row.namespace,
    type: row.type,
    priority: row.priority,
    labels: JSON.parse(row.labels) as Record<string, string>,
    queue: row.queue,
    batchId: row.batch_id,
    spec: JSON.parse(row.spec) as Job['spec'],
    state: row.state,
    stateMessage: row.state_message,
    retryCount: row.retry_count,
    revision: row.revision,
    version: row.version,
    createTime: row.create_time,
    modifyTime: row.modify_time,
    dedupeKey: row.dedupe_key ?? '',
    retryPolicy: { maxRetries: row.max_retries, backoffMs: row.backoff_ms, maxBackoffMs: row.max_backoff_ms },
    retryTime: row.retry_time,
    lastSuccessfulQueue: row.last_successful_queue,
    claim:
      row.claim_lease_id === null
        ? undefined
        : { leaseId: row.claim_lease_id, token: row.claim_token ?? 0, worker: row.claim_worker ?? '', claimTime: row.claim_time ?? 0 },
  };
}

export interface ExecutionRow {
  id: string;
  job_id: string;
  compute_node_id: string;
  desired_state: JobExecution['desiredState'];
  compute_state: JobExecution['computeState'];
  state_message: string;
  revision: number;
  create_time: number;
  modify_time: number;
}

export const EXECUTION_COLUMNS =
  'id, job_id, compute_node_id, desired_state, compute_state, state_message, revision, create_time, modify_time';

export function executionFromRow(row: ExecutionRow): JobExecution {
  return {
    id: row.id,
    jobId: row.job_id,
    computeNodeId: row.compute_node_id,
    desiredState: row.desired_state,
    computeState: row.compute_state,
    stateMessage: row.state_message,
    revision: row.revision,
    createTime: row.create_time,
    modifyTime: row.modify_time,
  };
}

export interface JobEventRow {
  revision: number;
  job_id: string;
  execution_id: string;
  type: JobEventType;
  previous_state: JobState | '';
  new_state: JobState | '';
  message: string;
  time: number;
  batch_id: string;
}

export const JOB_EVENT_COLUMNS = 'revision, job_id, execution_id, type, previous_state, new_state, message, time, batch_id';

export function jobEventFromRow(row: JobEventRow): JobEvent {
  return {
    revision: row.revision,
    jobId: row.job_id,
    executionId: row.execution_id,
    type: row.type,
    previousState: row.previous_state,
    newState: row.new_state,
    message: row.message,
    time: row.time,
    batchId: row.batch_id,
  };
}
