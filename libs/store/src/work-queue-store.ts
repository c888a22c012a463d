import type { Job, QueueHold } from './job-model.js';
import type { Page, PageRequest } from './job-store.js';
import type { LockGuard } from './lock-guard-check.js';

/**
 * Work queues over a requester database: claims bound to leases, and holds. A QUEUED job
 * belongs to its `queue`; ClaimJob hands out the highest priority first, then the oldest.
 * Finishing, failing, retrying or advancing a claimed job goes through JobStore.updateJobState
 * with the claim.
 */
export interface WorkQueueStore {
  claimJob(nodeId: string, input: ClaimJobInput): Promise<ClaimedJob>;
  holdJob(nodeId: string, input: HoldJobInput): Promise<Job>;
  releaseJob(nodeId: string, input: HoldJobInput): Promise<Job>;
  holdQueue(nodeId: string, input: QueueHoldInput): Promise<QueueHold>;
  /** False when the queue was not held. */
  releaseQueue(nodeId: string, queue: string, lockGuard?: LockGuard): Promise<boolean>;
  listQueueHolds(nodeId: string, page: PageRequest): Promise<Page<QueueHold>>;
}

export interface ClaimJobInput {
  /** The empty string is the default queue. */
  queue: string;
  leaseId: number;
  worker?: string;
}

export interface ClaimedJob {
  /** RUNNING, with its claim; absent when nothing was ready or the queue is held. */
  job?: Job;
  queueHeld: boolean;
}

export interface HoldJobInput {
  jobId: string;
  message?: string;
  expectedRevision?: number;
  lockGuard?: LockGuard;
}

export interface QueueHoldInput {
  queue: string;
  message?: string;
  lockGuard?: LockGuard;
}
