import { alreadyExists, failedPrecondition, notFound } from '@jobkeep/errors';
import { newRecordId } from './identifiers.js';
import type { Job, JobExecution } from './job-model.js';
import { EXECUTION_COLUMNS, executionFromRow, type ExecutionRow } from './job-rows.js';
import { jobMovedTo, jobNotFound, selectJob } from './job-reads.js';
import type { CreateExecutionInput, CreatedJob, JobChanges, OnDuplicate, UpdateExecutionInput, UpdateJobStateInput } from './job-store.js';
import { appendJobEventInTx } from './job-events.js';
import { insertNewJobsInTx, writeLabelsInTx } from './job-inserts.js';
import { admitToBatchInTx, completeBatchIfDoneInTx } from './batch-writes.js';
import { checkClaimInTx } from './claim-check.js';
import type { CoordinationDatabase } from './coordination-database.js';
import { changeJobStateInTx, retryOrFail, type JobStateChange } from './job-state-change.js';
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

/** What an earlier request with the same id did: its kind of record, the record, and what it answered. */
export interface EarlierRequest {
  kind: RequestKind;
  recordId: string;
  /** The first answer, for creates whose answer is more than the record (a batch's job ids). */
  response: string | null;
}

/** The request that first used `requestId`, which must have been of one of `kinds`. */
export function findRequestInTx(db: NodeDatabase, requestId: string, kinds: readonly RequestKind[]): EarlierRequest | undefined {
  if (requestId === '') return undefined;
  const row = db.statement('SELECT kind, record_id, response FROM request_ids WHERE request_id = ?').get(requestId) as
    | { kind: RequestKind; record_id: string; response: string | null }
    | undefined;
  if (row === undefined) return undefined;
  if (!kinds.includes(row.kind)) {
    throw alreadyExists(`request_id ${requestId} was already used to create ${row.kind.replace(/-.*/, '')} ${row.record_id}`);
  }
  return { kind: row.kind, recordId: row.record_id, response: row.response };
}

export function recordRequestInTx(
  db: NodeDatabase,
  requestId: string,
  kind: RequestKind,
  recordId: string,
  now: number,
  response: string | null = null,
): void {
  if (requestId === '') return;
  db.statement('INSERT INTO request_ids (request_id, kind, record_id, create_time, response) VALUES (?, ?, ?, ?, ?)').run(
    requestId,
    kind,
    recordId,
    now,
    response,
  );
}

export function existingJobInTx(db: NodeDatabase, jobId: string): Job {
  const job = selectJob(db, jobId);
  if (job === undefined) throw jobNotFound(db, jobId);
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

/**
 * The kinds of record a create's request_id may name. 'job-existing' is a create that returned
 * the live job holding its dedupe key: its retry returns that job again, as existing.
 */
type RequestKind = 'job' | 'job-existing' | 'execution' | 'batch';

export function createJobInTx(db: NodeDatabase, job: NewJob, onDuplicate: OnDuplicate, now: number): CreatedJob {
  const { id, existing, inserted } = insertJobInTx(db, job, onDuplicate, now);
  // A job made here is the row just written: reading it back would cost a create a sixth of
  // its time in the store (tools/bench/RESULTS.md). An earlier job is read.
  return { job: inserted ?? existingJobInTx(db, id), existing };
}

/**
 * Inserts one job, unless its request_id already made one or its dedupe key is live (and the
 * caller asked for the live job back). Returns the id, and the job as a read would return it
 * when it was made here. `batchAdmitted`: the job's batch was checked (or made) by the caller
 * in this transaction, as a CreateBatch does once for all its jobs.
 */
export function insertJobInTx(
  db: NodeDatabase,
  job: NewJob,
  onDuplicate: OnDuplicate,
  now: number,
  batchAdmitted = false,
): { id: string; existing: boolean; inserted?: Job } {
  const earlier = findRequestInTx(db, job.requestId, ['job', 'job-existing']);
  if (earlier !== undefined) {
    if (selectJob(db, earlier.recordId) === undefined) {
      const movedTo = jobMovedTo(db, earlier.recordId);
      throw alreadyExists(
        `request_id ${job.requestId} created job ${earlier.recordId}, which ${movedTo === undefined ? 'has since been deleted' : `a drain has since moved to node ${movedTo}`}`,
      );
    }
    return { id: earlier.recordId, existing: earlier.kind === 'job-existing' };
  }
  const duplicate = liveJobWithDedupeKeyInTx(db, job.namespace, job.dedupeKey);
  if (duplicate !== undefined) {
    if (onDuplicate === 'returnExisting') {
      // Recorded, so that a retry answers the same even once that job has ended and freed the key.
      recordRequestInTx(db, job.requestId, 'job-existing', duplicate.id, now);
      return { id: duplicate.id, existing: true };
    }
    throw alreadyExists(
      `namespace ${job.namespace} already has a live job with dedupe key ${JSON.stringify(job.dedupeKey)}: ${duplicate.id} (${duplicate.state})`,
    );
  }
  db.admitNewRecords();
  // Only an id the caller chose can already exist: one made here is new by construction (its
  // time and 74 random bits), and the primary key would still refuse a copy.
  if (job.id !== undefined && db.statement('SELECT 1 FROM jobs WHERE id = ?').get(job.id) !== undefined) {
    throw alreadyExists(`job ${job.id} already exists`);
  }
  const id = job.id ?? newRecordId('j');
  checkNameFreeInTx(db, job.namespace, job.name, id);
  if (job.batchId !== '' && !batchAdmitted) admitToBatchInTx(db, job.batchId, job.namespace, now);

  const [revision] = insertNewJobsInTx(db, [{ id, job }], now) as [number];
  recordRequestInTx(db, job.requestId, 'job', id, now);
  return { id, existing: false, inserted: newJobAsStored(id, job, revision, now) };
}

/** The job the insert above wrote, as jobFromRow reads it back; a test holds the two equal. */
function newJobAsStored(id: string, job: NewJob, revision: number, now: number): Job {
  return {
    id,
    name: job.name,
    namespace: job.namespace,
    type: job.type,
    priority: job.priority,
    labels: { ...job.labels },
    queue: job.queue,
    batchId: job.batchId,
    spec: JSON.parse(job.specJson) as Job['spec'],
    state: job.state,
    stateMessage: job.stateMessage,
    retryCount: 0,
    revision,
    version: 1,
    createTime: now,
    modifyTime: now,
    dedupeKey: job.dedupeKey,
    retryPolicy: { ...job.retryPolicy },
    retryTime: 0,
    lastSuccessfulQueue: '',
    claim: undefined,
  };
}

/** The namespace's non-terminal job with a dedupe key; its terms match the partial unique index's. */
export const LIVE_DEDUPE_KEY_SQL = `SELECT id, state FROM jobs WHERE namespace = ? AND dedupe_key = ? AND dedupe_key IS NOT NULL
  AND state NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')`;

function liveJobWithDedupeKeyInTx(db: NodeDatabase, namespace: string, key: string): { id: string; state: string } | undefined {
  if (key === '') return undefined;
  return db.statement(LIVE_DEDUPE_KEY_SQL).get(namespace, key) as { id: string; state: string } | undefined;
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
  const batchId = changes.batchId ?? job.batchId;
  if (batchId !== job.batchId && batchId !== '') admitToBatchInTx(db, batchId, job.namespace, now);
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
  // A live job leaving its batch may have been the batch's last one.
  if (batchId !== job.batchId && job.batchId !== '') completeBatchIfDoneInTx(db, job.batchId, jobId, now);
  return existingJobInTx(db, jobId);
}

export function updateJobStateInTx(
  db: NodeDatabase,
  coordination: CoordinationDatabase,
  input: UpdateJobStateInput,
  now: number,
): Job {
  const job = existingJobInTx(db, input.jobId);
  // The claim first: a claimer whose claim has ended learns that (ABORTED), whatever the job
  // has become since, its revision included.
  checkClaimInTx(coordination, job, input.claim, input.newState, now);
  checkWriteConditions(`job ${job.id}`, job, { states: input.expectedStates, revision: input.expectedRevision });
  checkJobTransition(job.id, job.state, input.newState, job.revision);
  changeJobStateInTx(db, job, stateChangeOf(job, input, now), now);
  return existingJobInTx(db, job.id);
}

/** What an UpdateJobState does besides setting the state: stages, retries, holds. */
function stateChangeOf(job: Job, input: UpdateJobStateInput, now: number): JobStateChange {
  const base = { newState: input.newState, message: input.message ?? '', executionId: input.executionId ?? '' };
  const nextQueue = input.nextQueue ?? '';
  if (nextQueue !== '' && !(job.state === 'RUNNING' && input.newState === 'QUEUED')) {
    throw failedPrecondition(`job ${job.id} is ${job.state}: only a RUNNING job moving to QUEUED goes on to a next_queue`);
  }
  if (job.state === 'RUNNING' && input.newState === 'QUEUED') {
    if (nextQueue !== '' && nextQueue === job.queue) {
      throw failedPrecondition(`job ${job.id} is already in queue ${JSON.stringify(nextQueue)}: next_queue names the next stage; QUEUED without it retries this one`);
    }
    if (nextQueue !== '') return { ...base, queue: nextQueue, lastSuccessfulQueue: job.queue, retryCount: 0, retryTime: 0 };
    return { ...retryOrFail(job, base.message === '' ? 'given back to its queue' : base.message, now), executionId: base.executionId };
  }
  if (job.state === 'RUNNING' && input.newState === 'COMPLETED') return { ...base, lastSuccessfulQueue: job.queue };
  if (input.newState === 'HELD') return { ...base, heldFrom: job.state === 'RUNNING' ? 'QUEUED' : job.state };
  return base;
}

/** Fails a job on the store's own authority (retention), whoever holds a claim on it. */
export function failJobInTx(db: NodeDatabase, jobId: string, message: string, now: number): void {
  const job = existingJobInTx(db, jobId);
  checkJobTransition(job.id, job.state, 'FAILED', job.revision);
  changeJobStateInTx(db, job, { newState: 'FAILED', message }, now);
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
  const earlier = findRequestInTx(db, input.requestId, ['execution']);
  if (earlier !== undefined) {
    const first = selectExecutionInTx(db, earlier.recordId);
    if (first === undefined) {
      // The retry names the job the execution was made for; a drain may have moved that job.
      const movedTo = jobMovedTo(db, input.jobId);
      const since = movedTo === undefined ? 'has since been deleted' : `a drain has since moved to node ${movedTo} with job ${input.jobId}`;
      throw alreadyExists(`request_id ${input.requestId} created execution ${earlier.recordId}, which ${since}`);
    }
    return first;
  }
  const job = existingJobInTx(db, input.jobId);
  if (isTerminalJobState(job.state)) {
    throw failedPrecondition(`job ${job.id} is ${job.state} at revision ${job.revision}; a terminal job gets no new executions`);
  }
  const id = input.id ?? newRecordId('e');
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
