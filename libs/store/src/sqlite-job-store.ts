import { checkIdentifier, checkNodeId, checkOptionalIdentifier } from './identifiers.js';
import type { DatabasePool } from './database-pool.js';
import {
  DESIRED_EXECUTION_STATES,
  EXECUTION_STATES,
  type Job,
  type JobEvent,
  type JobExecution,
} from './job-model.js';
import { buildJobListQuery, type CheckedJobQuery } from './job-list-query.js';
import { jobFromRow, type JobRow } from './job-rows.js';
import { pageOf, selectExecutions, selectJobById, selectJobByName, selectJobByPrefix, selectJobHistory } from './job-reads.js';
import type {
  CreateExecutionInput,
  CreatedJob,
  CreateJobInput,
  ExecutionQuery,
  JobHistoryQuery,
  JobKey,
  JobQuery,
  JobStore,
  Page,
  TimeRange,
  UpdateExecutionInput,
  UpdateJobInput,
  UpdateJobStateInput,
} from './job-store.js';
import {
  checkJobChanges,
  checkJobState,
  checkLabelSelector,
  checkMessage,
  checkNamespace,
  checkNewJob,
  checkOneOf,
  checkRequestId,
} from './job-validation.js';
import {
  createExecutionInTx,
  createJobInTx,
  deleteJobInTx,
  updateExecutionInTx,
  updateJobInTx,
  updateJobStateInTx,
} from './job-writes.js';
import type { CoordinationDatabase } from './coordination-database.js';
import { checkLockGuard, type LockGuard } from './lock-guard-check.js';
import { NodeDatabases } from './node-databases.js';
import { checkLeaseId } from './lease-validation.js';
import { checkPageSize, decodePageToken, queryFingerprint } from './page-token.js';
import { invalidArgument } from '@jobkeep/errors';
import type { StoreLimits } from './store-limits.js';

/**
 * The requester job store on SQLite: one {node}-requester.db per requester node. This facade
 * checks every input before touching a file, then runs exactly one transaction per call.
 */
export class SqliteJobStore implements JobStore {
  private readonly databases: NodeDatabases;

  constructor(
    pool: DatabasePool,
    private readonly coordination: CoordinationDatabase,
    private readonly limits: Pick<StoreLimits, 'maxSpecBytes'>,
    now: () => number = Date.now,
  ) {
    this.databases = new NodeDatabases(pool, 'requester', coordination, now);
  }

  async createJob(nodeId: string, input: CreateJobInput): Promise<CreatedJob> {
    checkNodeId(nodeId);
    const job = checkNewJob(input, this.limits.maxSpecBytes);
    const onDuplicate = checkOneOf('on_duplicate', ['fail', 'returnExisting'], input.onDuplicate ?? 'fail');
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, true, (db, now) => createJobInTx(db, job, onDuplicate, now));
  }

  async getJob(nodeId: string, key: JobKey): Promise<Job> {
    checkNodeId(nodeId);
    if ('id' in key) {
      const id = checkIdentifier('job id', key.id);
      const db = this.databases.get(nodeId);
      return db.read(() => selectJobById(db, id));
    }
    if ('idPrefix' in key) {
      const prefix = checkIdentifier('job id prefix', key.idPrefix);
      const db = this.databases.get(nodeId);
      return db.read(() => selectJobByPrefix(db, prefix));
    }
    const name = checkIdentifier('name', key.name);
    const namespace = checkNamespace(key.namespace);
    const db = this.databases.get(nodeId);
    return db.read(() => selectJobByName(db, namespace, name));
  }

  async listJobs(nodeId: string, query: JobQuery): Promise<Page<Job>> {
    checkNodeId(nodeId);
    const checked: CheckedJobQuery = {
      states: [...new Set(query.states ?? [])].map((state) => checkJobState('state', state)).sort(),
      namespace: checkOptionalIdentifier('namespace', query.namespace),
      labels: checkLabelSelector(query.labelSelector),
      queue: checkOptionalIdentifier('queue', query.queue),
      batchId: checkOptionalIdentifier('batch_id', query.batchId),
      created: checkRange('created', query.created),
      modified: checkRange('modified', query.modified),
      orderBy: query.orderBy ?? 'createTime',
      descending: query.descending ?? false,
      pageSize: checkPageSize(query.pageSize),
    };
    const fingerprint = queryFingerprint(['jobs', { ...checked, pageSize: undefined }]);
    const cursor = decodePageToken(query.pageToken, fingerprint);
    const { sql, params } = buildJobListQuery(checked, cursor);
    const db = this.databases.get(nodeId);
    const rows = db.read(() => db.statement(sql).all(...params) as JobRow[]);
    const orderColumn = checked.orderBy === 'modifyTime' ? 'modify_time' : 'create_time';
    return pageOf(rows, checked.pageSize, jobFromRow, (row) => ({ after: [row[orderColumn], row.id] }), fingerprint);
  }

  async updateJob(nodeId: string, input: UpdateJobInput): Promise<Job> {
    checkNodeId(nodeId);
    const jobId = checkIdentifier('job id', input.jobId);
    const changes = checkJobChanges(input.changes, this.limits.maxSpecBytes);
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, false, (db, now) => updateJobInTx(db, jobId, changes, input.expectedRevision, now));
  }

  async updateJobState(nodeId: string, input: UpdateJobStateInput): Promise<Job> {
    checkNodeId(nodeId);
    const checked: UpdateJobStateInput = {
      jobId: checkIdentifier('job id', input.jobId),
      newState: checkJobState('new_state', input.newState),
      message: checkMessage(input.message),
      expectedStates: (input.expectedStates ?? []).map((state) => checkJobState('expected_states', state)),
      expectedRevision: input.expectedRevision,
      executionId: checkOptionalIdentifier('execution_id', input.executionId),
      claim: input.claim && { leaseId: checkLeaseId(input.claim.leaseId, 'claim.lease_id'), token: checkRevision('claim.token', input.claim.token) },
      nextQueue: checkOptionalIdentifier('next_queue', input.nextQueue),
    };
    if (checked.nextQueue !== '' && checked.newState !== 'QUEUED') {
      throw invalidArgument(`next_queue moves a finished stage's job to its next queue: new_state must be QUEUED, not ${checked.newState}`);
    }
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, false, (db, now) => updateJobStateInTx(db, this.coordination, checked, now));
  }

  async deleteJob(nodeId: string, jobId: string, expectedRevision?: number, lockGuard?: LockGuard): Promise<number> {
    checkNodeId(nodeId);
    checkIdentifier('job id', jobId);
    const guard = checkLockGuard(lockGuard);
    return this.databases.write(nodeId, guard, false, (db, now) => deleteJobInTx(db, jobId, expectedRevision, now));
  }

  async getJobHistory(nodeId: string, query: JobHistoryQuery): Promise<Page<JobEvent>> {
    checkNodeId(nodeId);
    const checked = {
      jobId: checkOptionalIdentifier('job id', query.jobId),
      executionId: checkOptionalIdentifier('execution_id', query.executionId),
      fromRevision: checkRevision('from_revision', query.fromRevision ?? 0),
      pageSize: checkPageSize(query.pageSize),
      pageToken: query.pageToken,
    };
    const db = this.databases.get(nodeId);
    return db.read(() => selectJobHistory(db, checked));
  }

  async createExecution(nodeId: string, input: CreateExecutionInput): Promise<JobExecution> {
    checkNodeId(nodeId);
    const checked = {
      id: input.id === undefined || input.id === '' ? undefined : checkIdentifier('execution id', input.id),
      jobId: checkIdentifier('job_id', input.jobId),
      computeNodeId: checkIdentifier('compute_node_id', input.computeNodeId),
      desiredState: checkOneOf('desired_state', DESIRED_EXECUTION_STATES, input.desiredState ?? 'PENDING'),
      computeState: checkOneOf('compute_state', EXECUTION_STATES, input.computeState ?? 'CREATED'),
      stateMessage: checkMessage(input.stateMessage),
      requestId: checkRequestId(input.requestId),
    };
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, false, (db, now) => createExecutionInTx(db, checked, now));
  }

  async updateExecution(nodeId: string, input: UpdateExecutionInput): Promise<JobExecution> {
    checkNodeId(nodeId);
    const checked: UpdateExecutionInput = {
      executionId: checkIdentifier('execution id', input.executionId),
      desiredState: input.desiredState && checkOneOf('desired_state', DESIRED_EXECUTION_STATES, input.desiredState),
      computeState: input.computeState && checkOneOf('compute_state', EXECUTION_STATES, input.computeState),
      message: input.message === undefined ? undefined : checkMessage(input.message),
      expectedDesiredStates: (input.expectedDesiredStates ?? []).map((state) =>
        checkOneOf('expected_desired_states', DESIRED_EXECUTION_STATES, state),
      ),
      expectedRevision: input.expectedRevision,
    };
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, false, (db, now) => updateExecutionInTx(db, checked, now));
  }

  async listExecutions(nodeId: string, query: ExecutionQuery): Promise<Page<JobExecution>> {
    checkNodeId(nodeId);
    const jobId = checkIdentifier('job_id', query.jobId);
    const pageSize = checkPageSize(query.pageSize);
    const db = this.databases.get(nodeId);
    return db.read(() => {
      selectJobById(db, jobId);
      return selectExecutions(db, jobId, pageSize, query.pageToken);
    });
  }
}

function checkRevision(what: string, revision: number): number {
  if (!Number.isSafeInteger(revision) || revision < 0) throw invalidArgument(`${what} must be a revision, not ${revision}`);
  return revision;
}

function checkRange(what: string, range: TimeRange | undefined): TimeRange {
  if (range === undefined) return {};
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) {
    throw invalidArgument(`the ${what} time range is empty: its start is not before its end`);
  }
  return { from: range.from, to: range.to };
}
