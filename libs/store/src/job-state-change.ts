import type { Job, JobState } from './job-model.js';
import { appendJobEventInTx } from './job-events.js';
import { completeBatchIfDoneInTx } from './batch-writes.js';
import { isTerminalJobState } from './job-transitions.js';
import type { NodeDatabase } from './node-database.js';

/**
 * One change of a job's state and of the fields that move with it. Fields left out keep their
 * value, except the claim, which only a RUNNING job has, and `heldFrom`, which only a HELD job has.
 */
export interface JobStateChange {
  newState: JobState;
  message: string;
  executionId?: string;
  queue?: string;
  retryCount?: number;
  retryTime?: number;
  lastSuccessfulQueue?: string;
  /** With newState HELD: the state a release returns the job to. */
  heldFrom?: JobState;
  /** With newState RUNNING from ClaimJob: the claimer. Its token is this change's revision. */
  claim?: { leaseId: number; worker: string };
}

/**
 * The one place a job's state changes: every write path (UpdateJobState, ClaimJob, holds, a
 * lease's end, retention) comes through here, so that the history row, the claim and the
 * batch's completion can never be forgotten by one of them. Runs in the caller's transaction;
 * the per-state counters follow by trigger. Returns the change's revision.
 */
export function changeJobStateInTx(db: NodeDatabase, job: Job, change: JobStateChange, now: number): number {
  const revision = appendJobEventInTx(db, {
    jobId: job.id,
    executionId: change.executionId ?? '',
    type: 'JOB_STATE_CHANGED',
    previousState: job.state,
    newState: change.newState,
    message: change.message,
    time: now,
  });
  const claim = change.newState === 'RUNNING' ? (change.claim ?? job.claim) : undefined;
  const retryTime = change.retryTime ?? job.retryTime;
  db.statement(
    `UPDATE jobs SET state = ?, state_message = ?, queue = ?, retry_count = ?, retry_time = ?, last_successful_queue = ?,
       held_from = ?, claim_lease_id = ?, claim_token = ?, claim_worker = ?, claim_time = ?, in_backoff = ?, revision = ?,
       modify_time = ?
     WHERE id = ?`,
  ).run(
    change.newState,
    change.message,
    change.queue ?? job.queue,
    change.retryCount ?? job.retryCount,
    retryTime,
    change.lastSuccessfulQueue ?? job.lastSuccessfulQueue,
    change.newState === 'HELD' ? (change.heldFrom ?? null) : null,
    claim?.leaseId ?? null,
    claim === undefined ? null : change.claim !== undefined ? revision : (job.claim?.token ?? null),
    claim?.worker ?? null,
    claim === undefined ? null : change.claim !== undefined ? now : (job.claim?.claimTime ?? null),
    // A QUEUED job whose retry time is still to come waits in the backoff index, not the queue's.
    change.newState === 'QUEUED' && retryTime > now ? 1 : 0,
    revision,
    now,
    job.id,
  );
  if (job.batchId !== '' && isTerminalJobState(change.newState)) completeBatchIfDoneInTx(db, job.batchId, job.id, now);
  return revision;
}

/**
 * What becomes of a job whose attempt did not finish (its claimer's lease ended, or the claimer
 * gave it back): back to QUEUED with its retry count up and a backoff before it can be claimed
 * again, or FAILED once it has used its retries. The n-th retry waits
 * min(backoffMs * 2^(n-1), maxBackoffMs); there is no jitter, so that the wait is exact.
 */
export function retryOrFail(job: Job, reason: string, now: number): JobStateChange {
  const { maxRetries, backoffMs, maxBackoffMs } = job.retryPolicy;
  if (job.retryCount >= maxRetries) {
    return { newState: 'FAILED', message: `${reason}; out of retries (${job.retryCount} of ${maxRetries} used)` };
  }
  const retry = job.retryCount + 1;
  // The exponent stops at 31: past it every wait is the cap anyway, and 0 × 2^1024 would be NaN.
  const waitMs = Math.min(backoffMs * 2 ** Math.min(retry - 1, 31), maxBackoffMs);
  return {
    newState: 'QUEUED',
    message: `${reason}; retry ${retry} of ${maxRetries} after ${waitMs} ms`,
    retryCount: retry,
    retryTime: now + waitMs,
  };
}
