import { alreadyExists, invalidArgument } from '@jobkeep/errors';
import type { BatchQuery, BatchReport, BatchReportQuery, BatchStore, CreateBatchInput, CreatedBatch } from './batch-store.js';
import { MAX_BATCH_JOBS } from './batch-store.js';
import { selectBatchInTx, selectBatchesInTx, selectFailedJobsInTx } from './batch-reads.js';
import { completeBatchIfDoneInTx, insertBatchInTx, type NewBatch } from './batch-writes.js';
import type { CoordinationDatabase } from './coordination-database.js';
import type { DatabasePool } from './database-pool.js';
import { checkIdentifier, checkNodeId, checkOptionalIdentifier } from './identifiers.js';
import type { Batch } from './job-model.js';
import type { Page } from './job-store.js';
import { checkLabels, checkNamespace, checkNewJob, checkOneOf, checkRequestId } from './job-validation.js';
import { findRequestInTx, recordRequestInTx } from './job-writes.js';
import { insertBatchJobsInTx } from './batch-job-inserts.js';
import { checkLockGuard } from './lock-guard-check.js';
import { NodeDatabases } from './node-databases.js';
import { checkPageSize } from './page-token.js';
import { selectHistoryHead } from './history-reads.js';
import type { StoreLimits } from './store-limits.js';

/**
 * Batches on SQLite. CreateBatch is the bulk path: the batch and all its jobs in one
 * transaction, so one commit (one fsync) carries thousands of jobs.
 */
export class SqliteBatches implements BatchStore {
  private readonly databases: NodeDatabases;

  constructor(
    pool: DatabasePool,
    coordination: CoordinationDatabase,
    private readonly limits: Pick<StoreLimits, 'maxSpecBytes'>,
    now: () => number = Date.now,
  ) {
    this.databases = new NodeDatabases(pool, 'requester', coordination, now);
  }

  async createBatch(nodeId: string, input: CreateBatchInput): Promise<CreatedBatch> {
    checkNodeId(nodeId);
    if (input.jobs.length === 0) throw invalidArgument('a batch is created with at least one job');
    if (input.jobs.length > MAX_BATCH_JOBS) {
      throw invalidArgument(`a batch is created with at most ${MAX_BATCH_JOBS} jobs per call, not ${input.jobs.length}; add more with CreateJob and its batch_id`);
    }
    const batch: NewBatch = {
      id: input.id === undefined || input.id === '' ? undefined : checkIdentifier('batch id', input.id),
      namespace: checkNamespace(input.namespace),
      labels: checkLabels(input.labels ?? {}, 'a batch'),
    };
    const requestId = checkRequestId(input.requestId);
    const jobs = input.jobs.map((job, index) => {
      try {
        if (job.batchId !== undefined && job.batchId !== '' && job.batchId !== batch.id) {
          throw invalidArgument(`batch_id ${job.batchId} is not the batch's (${batch.id ?? 'to be assigned'}); leave it empty`);
        }
        return checkNewJob({ ...job, namespace: job.namespace || batch.namespace }, this.limits.maxSpecBytes);
      } catch (error) {
        if (error instanceof Error) error.message = `jobs[${index}]: ${error.message}`;
        throw error;
      }
    });
    const onDuplicate = checkOneOf('on_duplicate', ['fail', 'returnExisting'], input.onDuplicate ?? 'fail');
    const guard = checkLockGuard(input.lockGuard);
    return this.databases.write(nodeId, guard, true, (db, now) => {
      const earlier = findRequestInTx(db, requestId, ['batch']);
      if (earlier !== undefined) {
        // The first answer, as it was; the batch as it is now.
        const first = JSON.parse(earlier.response ?? '{"jobIds":[],"revision":0}') as { jobIds: string[]; revision: number };
        if (db.statement('SELECT 1 FROM batches WHERE id = ?').get(earlier.recordId) === undefined) {
          // Retention removed it once it held no job (retention.ts): there is no batch to answer with.
          throw alreadyExists(`request_id ${requestId} created batch ${earlier.recordId}, which has since been deleted`);
        }
        return { batch: selectBatchInTx(db, earlier.recordId), ...first };
      }
      const id = insertBatchInTx(db, batch, now);
      const jobIds = insertBatchJobsInTx(db, jobs.map((job) => ({ ...job, batchId: id })), onDuplicate, now);
      // A batch whose every job was a live duplicate has no job of its own to wait for.
      completeBatchIfDoneInTx(db, id, '', now);
      const revision = selectHistoryHead(db, 'requester');
      recordRequestInTx(db, requestId, 'batch', id, now, JSON.stringify({ jobIds, revision }));
      return { batch: selectBatchInTx(db, id), jobIds, revision };
    }, jobs.length);
  }

  async getBatch(nodeId: string, batchId: string): Promise<Batch> {
    checkNodeId(nodeId);
    const id = checkIdentifier('batch_id', batchId);
    const db = this.databases.get(nodeId);
    return db.read(() => selectBatchInTx(db, id));
  }

  async listBatches(nodeId: string, query: BatchQuery): Promise<Page<Batch>> {
    checkNodeId(nodeId);
    const namespace = checkOptionalIdentifier('namespace', query.namespace);
    const pageSize = checkPageSize(query.pageSize);
    const db = this.databases.get(nodeId);
    return db.read(() => selectBatchesInTx(db, namespace, pageSize, query.pageToken));
  }

  async getBatchReport(nodeId: string, query: BatchReportQuery): Promise<BatchReport> {
    checkNodeId(nodeId);
    const id = checkIdentifier('batch_id', query.batchId);
    const pageSize = checkPageSize(query.pageSize);
    const db = this.databases.get(nodeId);
    return db.read(() => {
      const batch = selectBatchInTx(db, id);
      const failed = selectFailedJobsInTx(db, id, pageSize, query.pageToken);
      return { batch, failedJobs: failed.items, nextPageToken: failed.nextPageToken };
    });
  }
}
