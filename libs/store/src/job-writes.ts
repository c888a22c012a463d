import { randomUUID } from 'node:crypto';
import { alreadyExists, failedPrecondition, notFound } from '@jobkeep/errors';
import type { Job, JobEvent, JobExecution } from './job-model.js';
import { EXECUTION_COLUMNS, executionFromRow, type ExecutionRow } from './job-rows.js';
import { selectJob } from './job-reads.js';
import type { CreateExecutionInput, JobChanges, UpdateExecutionInput, UpdateJobStateInput } from './job-store.js';
import {
  checkDesiredExecutionTransition,
  checkJobTransition,
  checkWriteConditions,
  isTerminalJobState,
} from './job-transitions.js';
import type { NewJob } from './job-validation.js';
import type { NodeDatabase } from './node-database.js';

/*
 * The bodies of the requester database's write transactions. Each function here runs inside a
 * transaction its caller (the store facade) owns, as the "InTx" suffix says; each appends the
 * history rows of its change, so a committed change and its history are never apart.
 */

/** Appends one history row and returns its revision, the database-wide change counter. */
export function appendJobEventInTx(db: NodeDatabase, event: Omit<JobEvent, 'revision'>): number {
  const result = db
    .statement(
      `INSERT INTO job_history (job_id, execution_id, type, previous_state, new_state, message, time)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(event.jobId, event.executionId, event.type, event.previousState, event.newState, event.message, event.time);
  return Number(result.lastInsertRowid);
}

function findRequestInTx(db: NodeDatabase, requestId: string, kind: 'job' | 'execution'): string | undefined {
  if (requestId === '') return undefined;
  const row = db.statement('SELECT kind, record_id FROM request_ids WHERE request_id = ?').get(requestId) as
    | { kind: string; record_id: string }
    | undefined;
  if (row === undefined) return undefined;
  if (row.kind !== kind) {
    throw alreadyExists(`request_id ${requestId} was already used to create ${row.kind} ${row.record_id}`);
  }
  return row.record_id;
}

function recordRequestInTx(db: NodeDatabase, requestId: string, kind: 'job' | 'execution', recordId: string, now: number): void {
  if (requestId === '') return;
  db.statement('INSERT INTO request_ids (request_id, kind, record_id, create_time) VALUES (?, ?, ?, ?)').run(
    requestId,
    kind,
    recordId,
    now,
  );
}

function existingJobInTx(db: NodeDatabase, jobId: string): Job {
  const job = selectJob(db, jobId);
  if (job === undefined) throw notFound(`job ${jobId} not found`);
  return job;
}

function checkNameFreeInTx(db: NodeDatabase, namespace: string, name: string, exceptJobId: string): void {
  if (name === '') return;
  const holder = db.statement('SELECT id FROM jobs WHERE namespace = ? AND name = ?').get(namespace, name) as
    | { id: string }
    | undefined;
  if (holder !== undefined && holder.id !== exceptJobId) {
    throw alreadyExists(`namespace ${namespace} already has a job named ${name}: ${holder.id}`);
  }
}

export function createJobInTx(db: NodeDatabase, job: NewJob, now: number): Job {
  const earlier = findRequestInTx(db, job.requestId, 'job');
  if (earlier !== undefined) {
    const first = selectJob(db, earlier);
    if (first === undefined) {
      throw alreadyExists(`request_id ${job.requestId} created job ${earlier}, which has since been deleted`);
    }
    return first;
  }
  const id = job.id ?? `j-${randomUUID()}`;
  if (selectJob(db, id) !== undefined) throw alreadyExists(`job ${id} already exists`);
  checkNameFreeInTx(db, job.namespace, job.name, id);

  const revision = appendJobEventInTx(db, {
    jobId: id,
    executionId: '',
    type: 'JOB_CREATED',
    previousState: '',
    newState: job.state,
    message: job.stateMessage,
    time: now,
  });
  db.statement(
    `INSERT INTO jobs (id, namespace, name, type, priority, queue, batch_id, state, state_message,
       retry_count, revision, version, create_time, modify_time)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 1, ?, ?)`,
  ).run(id, job.namespace, job.name || null, job.type, job.priority, job.queue, job.batchId, job.state,
    job.stateMessage, revision, now, now);
  db.statement('INSERT INTO job_specs (job_id, spec, labels) VALUES (?, ?, ?)').run(id, job.specJson, JSON.stringify(job.labels));
  writeLabelsInTx(db, id, job.labels);
  recordRequestInTx(db, job.requestId, 'job', id, now);
  return existingJobInTx(db, id);
}

function writeLabelsInTx(db: NodeDatabase, jobId: string, labels: Record<string, string>): void {
  db.statement('DELETE FROM job_labels WHERE job_id = ?').run(jobId);
  const insert = db.statement('INSERT INTO job_labels (job_id, key, value) VALUES (?, ?, ?)');
  for (const [key, value] of Object.entries(labels)) insert.run(jobId, key, value);
}

function refuseTerminalChangeInTx(job: Job): void {
  if (isTerminalJobState(job.state)) {
    throw failedPrecondition(`job ${job.id} is ${job.state} at revision ${job.revision}; a terminal job never changes`);
  }
}

export function updateJobInTx(
  db: NodeDatabase,
  jobId: string,
  changes: JobChanges & { specJson?: string },
  expectedRevision: number | undefined,
  now: number,
): Job {
  const job = existingJobInTx(db, jobId);
  checkWriteConditions(`job ${jobId}`, job, { revision: expectedRevision });
  refuseTerminalChangeInTx(job);
  const name = changes.name ?? job.name;
  checkNameFreeInTx(db, job.namespace, name, jobId);
  const specChanged = changes.specJson !== undefined && changes.specJson !== JSON.stringify(job.spec);
  const changed = Object.keys(changes).map((field) => (field === 'specJson' ? 'spec' : field));

  const revision = appendJobEventInTx(db, {
    jobId,
    executionId: '',
    type: 'JOB_UPDATED',
    previousState: job.state,
    newState: job.state,
    message: `changed ${changed.join(', ')}`,
    time: now,
  });
  db.statement(
    `UPDATE jobs SET name = ?, priority = ?, queue = ?, batch_id = ?, revision = ?, version = ?, modify_time = ?
     WHERE id = ?`,
  ).run(name || null, changes.priority ?? job.priority, changes.queue ?? job.queue, changes.batchId ?? job.batchId,
    revision, specChanged ? job.version + 1 : job.version, now, jobId);
  if (changes.specJson !== undefined || changes.labels !== undefined) {
    const labels = changes.labels ?? job.labels;
    db.statement('UPDATE job_specs SET spec = ?, labels = ? WHERE job_id = ?').run(
      changes.specJson ?? JSON.stringify(job.spec), JSON.stringify(labels), jobId);
    if (changes.labels !== undefined) writeLabelsInTx(db, jobId, labels);
  }
  return existingJobInTx(db, jobId);
}

export function updateJobStateInTx(db: NodeDatabase, input: UpdateJobStateInput, now: number): Job {
  const job = existingJobInTx(db, input.jobId);
  checkWriteConditions(`job ${job.id}`, job, { states: input.expectedStates, revision: input.expectedRevision });
  checkJobTransition(job.id, job.state, input.newState, job.revision);
  const retry = job.state === 'RUNNING' && input.newState === 'QUEUED' ? 1 : 0;
  const message = input.message ?? '';

  const revision = appendJobEventInTx(db, {
    jobId: job.id,
    executionId: input.executionId ?? '',
    type: 'JOB_STATE_CHANGED',
    previousState: job.state,
    newState: input.newState,
    message,
    time: now,
  });
  db.statement(
    `UPDATE jobs SET state = ?, state_message = ?, retry_count = retry_count + ?, revision = ?, modify_time = ?
     WHERE id = ?`,
  ).run(input.newState, message, retry, revision, now, job.id);
  return existingJobInTx(db, job.id);
}

export function deleteJobInTx(db: NodeDatabase, jobId: string, expectedRevision: number | undefined, now: number): number {
  const job = existingJobInTx(db, jobId);
  checkWriteConditions(`job ${jobId}`, job, { revision: expectedRevision });
  if (!isTerminalJobState(job.state)) {
    throw failedPrecondition(
      `job ${jobId} is ${job.state} at revision ${job.revision}; only a COMPLETED, FAILED or CANCELLED job can be deleted`,
    );
  }
  const revision = appendJobEventInTx(db, {
    jobId,
    executionId: '',
    type: 'JOB_DELETED',
    previousState: job.state,
    newState: '',
    message: '',
    time: now,
  });
  // Specs, labels and executions go with the job through ON DELETE CASCADE.
  db.statement('DELETE FROM jobs WHERE id = ?').run(jobId);
  return revision;
}

function selectExecutionInTx(db: NodeDatabase, executionId: string): JobExecution | undefined {
  const row = db.statement(`SELECT ${EXECUTION_COLUMNS} FROM executions WHERE id = ?`).get(executionId) as
    | ExecutionRow
    | undefined;
  return row === undefined ? undefined : executionFromRow(row);
}

function existingExecutionInTx(db: NodeDatabase, executionId: string): JobExecution {
  const execution = selectExecutionInTx(db, executionId);
  if (execution === undefined) throw notFound(`execution ${executionId} not found`);
  return execution;
}

export function createExecutionInTx(db: NodeDatabase, input: Required<Omit<CreateExecutionInput, 'id' | 'lockGuard'>> & { id: string | undefined }, now: number): JobExecution {
  const earlier = findRequestInTx(db, input.requestId, 'execution');
  if (earlier !== undefined) {
    const first = selectExecutionInTx(db, earlier);
    if (first === undefined) {
      throw alreadyExists(`request_id ${input.requestId} created execution ${earlier}, which has since been deleted`);
    }
    return first;
  }
  const job = existingJobInTx(db, input.jobId);
  if (isTerminalJobState(job.state)) {
    throw failedPrecondition(`job ${job.id} is ${job.state} at revision ${job.revision}; a terminal job gets no new executions`);
  }
  const id = input.id ?? `e-${randomUUID()}`;
  if (selectExecutionInTx(db, id) !== undefined) throw alreadyExists(`execution ${id} already exists`);

  const revision = appendJobEventInTx(db, {
    jobId: job.id,
    executionId: id,
    type: 'EXECUTION_CREATED',
    previousState: '',
    newState: '',
    message: `on ${input.computeNodeId}: ${input.desiredState}, ${input.computeState}`,
    time: now,
  });
  db.statement(
    `INSERT INTO executions (id, job_id, compute_node_id, desired_state, compute_state, state_message, revision,
       create_time, modify_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, job.id, input.computeNodeId, input.desiredState, input.computeState, input.stateMessage, revision, now, now);
  recordRequestInTx(db, input.requestId, 'execution', id, now);
  return existingExecutionInTx(db, id);
}

export function updateExecutionInTx(db: NodeDatabase, input: UpdateExecutionInput, now: number): JobExecution {
  const execution = existingExecutionInTx(db, input.executionId);
  checkWriteConditions(
    `execution ${execution.id}`,
    { state: execution.desiredState, revision: execution.revision },
    { states: input.expectedDesiredStates, revision: input.expectedRevision },
  );
  const desiredState = input.desiredState ?? execution.desiredState;
  checkDesiredExecutionTransition(execution.id, execution.desiredState, desiredState, execution.revision);
  const computeState = input.computeState ?? execution.computeState;
  const message = input.message ?? execution.stateMessage;

  const revision = appendJobEventInTx(db, {
    jobId: execution.jobId,
    executionId: execution.id,
    type: 'EXECUTION_UPDATED',
    previousState: '',
    newState: '',
    message: `${desiredState}, ${computeState}${message === '' ? '' : `: ${message}`}`,
    time: now,
  });
  db.statement(
    `UPDATE executions SET desired_state = ?, compute_state = ?, state_message = ?, revision = ?, modify_time = ?
     WHERE id = ?`,
  ).run(desiredState, computeState, message, revision, now, execution.id);
  return existingExecutionInTx(db, execution.id);
}
