import type { Batch, FailedJob } from './job-model.js';
import type { CreateJobInput, OnDuplicate, Page, PageRequest } from './job-store.js';
import type { LockGuard } from './lock-guard-check.js';

/** Batches over a requester database: many jobs created in one transaction, counted per state. */
export interface BatchStore {
  createBatch(nodeId: string, input: CreateBatchInput): Promise<CreatedBatch>;
  getBatch(nodeId: string, batchId: string): Promise<Batch>;
  listBatches(nodeId: string, query: BatchQuery): Promise<Page<Batch>>;
  getBatchReport(nodeId: string, query: BatchReportQuery): Promise<BatchReport>;
}

/** Jobs per CreateBatch call: one transaction holds the database's write lock while it runs. */
export const MAX_BATCH_JOBS = 10_000;

export interface CreateBatchInput {
  id?: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** Each as CreateJob takes it; `batchId`, when given, must be the batch's. */
  jobs: Omit<CreateJobInput, 'requestId' | 'lockGuard' | 'onDuplicate'>[];
  requestId?: string;
  onDuplicate?: OnDuplicate;
  lockGuard?: LockGuard;
}

export interface CreatedBatch {
  batch: Batch;
  /**
   * The jobs' ids in the order of the input, a deduplicated job's place holding the live job's
   * id (that job is not a member of the batch). A retried request_id gets the first answer.
   */
  jobIds: string[];
  /** The database revision after the batch was written. */
  revision: number;
}

export interface BatchQuery extends PageRequest {
  namespace?: string;
}

export interface BatchReportQuery extends PageRequest {
  batchId: string;
}

export interface BatchReport {
  batch: Batch;
  /** Oldest first, one page of them. */
  failedJobs: FailedJob[];
  nextPageToken: string;
}
