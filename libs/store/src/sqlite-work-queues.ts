import type { CoordinationDatabase } from './coordination-database.js';
import type { DatabasePool } from './database-pool.js';
import { checkIdentifier, checkNodeId, checkOptionalIdentifier } from './identifiers.js';
import type { Job, QueueHold } from './job-model.js';
import { pageOf } from './job-reads.js';
import type { Page, PageRequest } from './job-store.js';
import { checkMessage, checkWorker } from './job-validation.js';
import { checkLeaseId } from './lease-validation.js';
import { requireLiveLeaseInTx } from './lease-writes.js';
import { checkLockGuard, type LockGuard } from './lock-guard-check.js';
import { NodeDatabases } from './node-databases.js';
import { checkPageSize, decodePageToken, queryFingerprint } from './page-token.js';
import type { ClaimJobInput, ClaimedJob, HoldJobInput, QueueHoldInput, WorkQueueStore } from './work-queue-store.js';
import {
  QUEUE_HOLD_COLUMNS,
  claimJobInTx,
  holdJobInTx,
  holdQueueInTx,
  queueHoldFromRow,
  releaseJobInTx,
  releaseQueueInTx,
} from './work-queue-writes.js';

/** Work queues on SQLite: each call checks its input, then runs one transaction. */
export class SqliteWorkQueues implements WorkQueueStore {
  private readonly databases: NodeDatabases;

  constructor(
    pool: DatabasePool,
    private readonly coordination: CoordinationDatabase,
    private readonly now: () => number = Date.now,
  ) {
    this.databases = new NodeDatabases(pool, 'requester', coordination, now);
  }

  async claimJob(nodeId: string, input: ClaimJobInput): Promise<ClaimedJob> {
    checkNodeId(nodeId);
    const request = {
      queue: checkOptionalIdentifier('queue', input.queue),
      leaseId: checkLeaseId(input.leaseId),
      worker: checkWorker(input.worker),
    };
    requireLiveLeaseInTx(this.coordination, request.leaseId, this.now());
    // A node with no database has no job yet: nothing to hand out, and no file is made for it.
    const db = this.databases.existing(nodeId);
    if (db === undefined) return { queueHeld: false };
    this.recordLeaseClaims(request.leaseId, nodeId);
    return db.write(() => claimJobInTx(db, this.coordination, request, this.now()));
  }

  /**
   * Notes in coordination.db, before the claim commits, that the lease may hold claims in this
   * node's database, so that its end finds them even if the server crashes in between. Read
   * first: after a lease's first claim here, claiming costs no write to coordination.db.
   */
  private recordLeaseClaims(leaseId: number, nodeId: string): void {
    const known = this.coordination.statement('SELECT 1 FROM lease_claims WHERE lease_id = ? AND node_id = ?').get(leaseId, nodeId);
    if (known !== undefined) return;
    // Decided, not awaited: the claim's own commit commits coordination.db first (beforeCommit).
    this.coordination.decide(() => {
      requireLiveLeaseInTx(this.coordination, leaseId, this.now());
      this.coordination.statement('INSERT OR IGNORE INTO lease_claims (lease_id, node_id) VALUES (?, ?)').run(leaseId, nodeId);
    });
  }

  async holdJob(nodeId: string, input: HoldJobInput): Promise<Job> {
    checkNodeId(nodeId);
    const request = checkHoldInput(input);
    return this.databases.write(nodeId, checkLockGuard(input.lockGuard), false, (db, now) => holdJobInTx(db, request, now));
  }

  async releaseJob(nodeId: string, input: HoldJobInput): Promise<Job> {
    checkNodeId(nodeId);
    const request = checkHoldInput(input);
    return this.databases.write(nodeId, checkLockGuard(input.lockGuard), false, (db, now) => releaseJobInTx(db, request, now));
  }

  async holdQueue(nodeId: string, input: QueueHoldInput): Promise<QueueHold> {
    checkNodeId(nodeId);
    const queue = checkOptionalIdentifier('queue', input.queue);
    const message = checkMessage(input.message);
    // A queue may be held before its first job arrives, as an operator readies a node.
    return this.databases.write(nodeId, checkLockGuard(input.lockGuard), true, (db, now) => holdQueueInTx(db, queue, message, now));
  }

  async releaseQueue(nodeId: string, queue: string, lockGuard?: LockGuard): Promise<boolean> {
    checkNodeId(nodeId);
    const name = checkOptionalIdentifier('queue', queue);
    return this.databases.write(nodeId, checkLockGuard(lockGuard), false, (db) => releaseQueueInTx(db, name));
  }

  async listQueueHolds(nodeId: string, page: PageRequest): Promise<Page<QueueHold>> {
    checkNodeId(nodeId);
    const pageSize = checkPageSize(page.pageSize);
    const fingerprint = queryFingerprint(['queue-holds']);
    // Queue names are the key; the cursor's number is unused.
    const after = decodePageToken(page.pageToken, fingerprint)?.after[1];
    const db = this.databases.get(nodeId);
    const rows = db.read(() =>
      after === undefined
        ? db.statement(`SELECT ${QUEUE_HOLD_COLUMNS} FROM queue_holds ORDER BY queue LIMIT ?`).all(pageSize + 1)
        : db.statement(`SELECT ${QUEUE_HOLD_COLUMNS} FROM queue_holds WHERE queue > ? ORDER BY queue LIMIT ?`).all(after, pageSize + 1),
    ) as Parameters<typeof queueHoldFromRow>[0][];
    return pageOf(rows, pageSize, queueHoldFromRow, (row) => ({ after: [0, row.queue] }), fingerprint);
  }
}

function checkHoldInput(input: HoldJobInput): { jobId: string; message: string; expectedRevision?: number } {
  return { jobId: checkIdentifier('job id', input.jobId), message: checkMessage(input.message), expectedRevision: input.expectedRevision };
}
