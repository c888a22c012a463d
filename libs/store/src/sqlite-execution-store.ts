import type { DatabasePool } from './database-pool.js';
import { buildExecutionListQuery, type CheckedExecutionQuery } from './execution-list-query.js';
import type { Execution, ExecutionCounters, ExecutionEvent } from './execution-model.js';
import { checkHistoryPage, selectExecutionById, selectExecutionCounters, selectExecutionHistory } from './execution-reads.js';
import { executionFromRow, type ExecutionRow } from './execution-rows.js';
import type {
  ExecutionHistoryQuery,
  ExecutionListQuery,
  ExecutionStore,
  NewExecutionInput,
  UpdateExecutionStateInput,
} from './execution-store.js';
import { checkExecutionState, checkNewExecution, checkRevision, checkRunResult } from './execution-validation.js';
import { createExecutionInTx, deleteExecutionInTx, updateExecutionStateInTx } from './execution-writes.js';
import { checkIdentifier, checkNodeId, checkOptionalIdentifier } from './identifiers.js';
import { pageOf } from './job-reads.js';
import type { Page } from './job-store.js';
import { checkMessage } from './job-validation.js';
import type { CoordinationDatabase } from './coordination-database.js';
import { checkLockGuard, type LockGuard } from './lock-guard-check.js';
import { NodeDatabases } from './node-databases.js';
import { checkPageSize, decodePageToken, queryFingerprint } from './page-token.js';
import type { StoreLimits } from './store-limits.js';

/**
 * The compute execution store on SQLite: one {node}-compute.db per compute node. Like
 * SqliteJobStore, it checks every input before touching a file, then runs exactly one
 * transaction per call.
 */
export class SqliteExecutionStore implements ExecutionStore {
  private readonly databases: NodeDatabases;

  constructor(
    pool: DatabasePool,
    coordination: CoordinationDatabase,
    private readonly limits: Pick<StoreLimits, 'maxSpecBytes'>,
    now: () => number = Date.now,
  ) {
    this.databases = new NodeDatabases(pool, 'compute', coordination, now);
  }

  async createExecution(nodeId: string, input: NewExecutionInput): Promise<Execution> {
    checkNodeId(nodeId);
    const execution = checkNewExecution(input, this.limits.maxSpecBytes);
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, true, (db, now) => createExecutionInTx(db, execution, now));
  }

  async getExecution(nodeId: string, executionId: string): Promise<Execution> {
    checkNodeId(nodeId);
    const id = checkIdentifier('execution id', executionId);
    const db = this.databases.get(nodeId);
    return db.read(() => selectExecutionById(db, id));
  }

  async listExecutions(nodeId: string, query: ExecutionListQuery): Promise<Page<Execution>> {
    checkNodeId(nodeId);
    const checked: CheckedExecutionQuery = {
      jobId: checkOptionalIdentifier('job_id', query.jobId),
      states: [...new Set(query.states ?? [])].map((state) => checkExecutionState('states', state)).sort(),
      requesterNodeId: checkOptionalIdentifier('requester_node_id', query.requesterNodeId),
      descending: query.descending ?? false,
      pageSize: checkPageSize(query.pageSize),
    };
    const fingerprint = queryFingerprint(['executions', { ...checked, pageSize: undefined }]);
    const cursor = decodePageToken(query.pageToken, fingerprint);
    const { sql, params } = buildExecutionListQuery(checked, cursor);
    const db = this.databases.get(nodeId);
    const rows = db.read(() => db.statement(sql).all(...params) as ExecutionRow[]);
    return pageOf(rows, checked.pageSize, executionFromRow, (row) => ({ after: [row.modify_time, row.id] }), fingerprint);
  }

  async updateExecutionState(nodeId: string, input: UpdateExecutionStateInput): Promise<Execution> {
    checkNodeId(nodeId);
    const checked: UpdateExecutionStateInput = {
      executionId: checkIdentifier('execution id', input.executionId),
      newState: checkExecutionState('new_state', input.newState),
      message: checkMessage(input.message),
      expectedStates: (input.expectedStates ?? []).map((state) => checkExecutionState('expected_states', state)),
      expectedRevision: input.expectedRevision === undefined ? undefined : checkRevision('expected_revision', input.expectedRevision),
      runResult: input.runResult === undefined ? undefined : checkRunResult(input.runResult),
    };
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, false, (db, now) => updateExecutionStateInTx(db, checked, now));
  }

  async deleteExecution(nodeId: string, executionId: string, expectedRevision?: number, lockGuard?: LockGuard): Promise<number> {
    checkNodeId(nodeId);
    const id = checkIdentifier('execution id', executionId);
    const expected = expectedRevision === undefined ? undefined : checkRevision('expected_revision', expectedRevision);
    const guard = checkLockGuard(lockGuard);
    return this.databases.write(nodeId, guard, false, (db, now) => deleteExecutionInTx(db, id, expected, now));
  }

  async getExecutionHistory(nodeId: string, query: ExecutionHistoryQuery): Promise<Page<ExecutionEvent>> {
    checkNodeId(nodeId);
    const selection = checkHistoryPage(
      checkOptionalIdentifier('execution id', query.executionId),
      checkRevision('from_revision', query.fromRevision ?? 0),
      checkPageSize(query.pageSize),
      query.pageToken,
    );
    const db = this.databases.get(nodeId);
    return db.read(() => selectExecutionHistory(db, selection));
  }

  async getCounters(nodeId: string): Promise<ExecutionCounters> {
    checkNodeId(nodeId);
    const db = this.databases.get(nodeId);
    return db.read(() => selectExecutionCounters(db));
  }
}
