import { failedPrecondition } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { Job, QueueHold } from './job-model.js';
import { changeJobStateInTx, retryOrFail } from './job-state-change.js';
import { checkJobTransition, checkWriteConditions } from './job-transitions.js';
import { existingJobInTx } from './job-writes.js';
import { requireLiveLeaseInTx } from './lease-writes.js';
import type { NodeDatabase } from './node-database.js';
import { NOT_FROZEN } from './job-moves-schema.js';

/*
 * The write transactions of work queues. Each runs inside a transaction its caller owns.
 */

export interface ClaimRequest {
  queue: string;
  leaseId: number;
  worker: string;
}

export interface ClaimOutcome {
  /** The claimed job; absent when nothing was ready or the queue is held. */
  job?: Job;
  queueHeld: boolean;
}

/** The head of a queue (see claimJobInTx); exported for the query-plan test. */
export const QUEUE_HEAD_SQL = `SELECT id FROM jobs INDEXED BY jobs_claim_order WHERE state = 'QUEUED' AND in_backoff = 0 AND queue = ?
  AND ${NOT_FROZEN} ORDER BY priority DESC, create_revision LIMIT 1`;

/** Jobs of a queue whose backoff has ended go back among those that may be claimed. */
export const BACKOFF_ENDED_SQL = `UPDATE jobs INDEXED BY jobs_in_backoff SET in_backoff = 0
  WHERE state = 'QUEUED' AND in_backoff = 1 AND queue = ? AND retry_time <= ? AND ${NOT_FROZEN}`;

/** Up to a number of the jobs claimed under one lease. */
export const CLAIMS_OF_LEASE_SQL = `SELECT id FROM jobs WHERE claim_lease_id = ? AND ${NOT_FROZEN} LIMIT ?`;

/** Claims of a lease that a drain has frozen: returned where they end up, once it has moved them. */
export const FROZEN_CLAIMS_OF_LEASE_SQL = `SELECT count(*) AS n FROM jobs WHERE claim_lease_id = ? AND NOT (${NOT_FROZEN})`;

/**
 * Takes the head of the queue: the highest priority, then the oldest (lowest create revision),
 * QUEUED job whose retry time has come. Jobs whose backoff has just ended join the claimable
 * ones first (an index range, empty most of the time); then the head is the first entry of
 * `jobs_claim_order`. One transaction at a time runs on a database, so two claimers never take
 * the same job.
 */
export function claimJobInTx(db: NodeDatabase, coordination: CoordinationDatabase, request: ClaimRequest, now: number): ClaimOutcome {
  requireLiveLeaseInTx(coordination, request.leaseId, now);
  if (selectQueueHoldInTx(db, request.queue) !== undefined) return { queueHeld: true };
  // `in_backoff` is the store's bookkeeping, not the job's: it changes no revision.
  db.statement(BACKOFF_ENDED_SQL).run(request.queue, now);
  const head = db.statement(QUEUE_HEAD_SQL).get(request.queue) as { id: string } | undefined;
  if (head === undefined) return { queueHeld: false };
  const job = existingJobInTx(db, head.id);
  changeJobStateInTx(
    db,
    job,
    {
      newState: 'RUNNING',
      message: `claimed by ${request.worker === '' ? 'a worker' : request.worker} under lease ${request.leaseId}`,
      retryTime: 0,
      claim: { leaseId: request.leaseId, worker: request.worker },
    },
    now,
  );
  return { job: existingJobInTx(db, job.id), queueHeld: false };
}

/**
 * Returns up to `limit` of the jobs claimed under an ended lease to their queues (or fails
 * those out of retries). Their queue and last successful queue stay as they were, so a retry
 * resumes the stage that was interrupted. Returns how many jobs it touched: fewer than `limit`
 * once the lease has no claim left here.
 */
export function returnClaimsInTx(db: NodeDatabase, leaseId: number, now: number, limit: number): number {
  const rows = db.statement(CLAIMS_OF_LEASE_SQL).all(leaseId, limit) as { id: string }[];
  for (const { id } of rows) {
    const job = existingJobInTx(db, id);
    const worker = job.claim?.worker === undefined || job.claim.worker === '' ? '' : ` of ${job.claim.worker}`;
    changeJobStateInTx(db, job, retryOrFail(job, `lease ${leaseId}${worker} ended`, now), now);
  }
  return rows.length;
}

export interface HoldRequest {
  jobId: string;
  message: string;
  expectedRevision?: number;
}

/** Holds one job, remembering the state a release returns it to; holding a HELD job changes nothing. */
export function holdJobInTx(db: NodeDatabase, request: HoldRequest, now: number): Job {
  const job = existingJobInTx(db, request.jobId);
  checkWriteConditions(`job ${job.id}`, job, { revision: request.expectedRevision });
  if (job.state === 'HELD') return job;
  checkJobTransition(job.id, job.state, 'HELD', job.revision);
  // A RUNNING job loses its claim and, once released, waits in its queue again.
  changeJobStateInTx(db, job, { newState: 'HELD', message: request.message, heldFrom: job.state === 'RUNNING' ? 'QUEUED' : job.state }, now);
  return existingJobInTx(db, job.id);
}

/** Releases a HELD job to the state it was held from; its place in its queue is its age, so it is kept. */
export function releaseJobInTx(db: NodeDatabase, request: HoldRequest, now: number): Job {
  const job = existingJobInTx(db, request.jobId);
  checkWriteConditions(`job ${job.id}`, job, { revision: request.expectedRevision });
  if (job.state !== 'HELD') {
    throw failedPrecondition(`job ${job.id} is ${job.state} at revision ${job.revision}, not HELD: there is nothing to release`);
  }
  const row = db.statement('SELECT held_from FROM jobs WHERE id = ?').get(job.id) as { held_from: Job['state'] | null };
  changeJobStateInTx(db, job, { newState: row.held_from ?? 'QUEUED', message: request.message }, now);
  return existingJobInTx(db, job.id);
}

interface QueueHoldRow {
  queue: string;
  message: string;
  hold_time: number;
}

export const QUEUE_HOLD_COLUMNS = 'queue, message, hold_time';

export function queueHoldFromRow(row: QueueHoldRow): QueueHold {
  return { queue: row.queue, message: row.message, holdTime: row.hold_time };
}

export function selectQueueHoldInTx(db: NodeDatabase, queue: string): QueueHold | undefined {
  const row = db.statement(`SELECT ${QUEUE_HOLD_COLUMNS} FROM queue_holds WHERE queue = ?`).get(queue) as QueueHoldRow | undefined;
  return row === undefined ? undefined : queueHoldFromRow(row);
}

/** Holds a queue; an earlier hold stays as it was, so that holding twice is harmless. */
export function holdQueueInTx(db: NodeDatabase, queue: string, message: string, now: number): QueueHold {
  db.statement('INSERT INTO queue_holds (queue, message, hold_time) VALUES (?, ?, ?) ON CONFLICT (queue) DO NOTHING').run(queue, message, now);
  return selectQueueHoldInTx(db, queue)!;
}

/** Releases a queue; false when it was not held. Its jobs never moved, so their order is as before. */
export function releaseQueueInTx(db: NodeDatabase, queue: string): boolean {
  return db.statement('DELETE FROM queue_holds WHERE queue = ?').run(queue).changes > 0;
}
