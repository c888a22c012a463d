import { isJobkeepError, unavailable } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { DatabasePool } from './database-pool.js';
import type { LeaseEndListener } from './lock-manager.js';
import type { NodeDatabase } from './node-database.js';
import { FROZEN_CLAIMS_OF_LEASE_SQL, returnClaimsInTx } from './work-queue-writes.js';

/** What one return of claims did. */
export interface ClaimsReturned {
  leaseId: number;
  nodeId: string;
  jobs: number;
}

/** Claims returned per transaction; see returnClaims. */
const RETURN_CHUNK_JOBS = 500;

/** After a pass that could not finish, the next one waits this long, doubling up to the cap. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;

/**
 * Hands the jobs claimed under ended leases back to their queues. ClaimJob notes in
 * coordination.db (lease_claims) every requester database a lease claims from, before the claim
 * commits; when the lease ends, each of those databases gets one transaction that returns the
 * lease's jobs, and only then is the note deleted. A note left behind (a crash in between, or a
 * database that could not be written) is an orphan: the pass at start returns every orphan, and
 * a pass that could not finish is tried again on a timer until it does.
 */
export class ClaimReturner implements LeaseEndListener {
  /** Passes run one after another, so that two never return the same lease's jobs at once. */
  private pass: Promise<ClaimsReturned[]> = Promise.resolve([]);
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = RETRY_FIRST_MS;
  private closed = false;

  constructor(
    private readonly coordination: CoordinationDatabase,
    private readonly pool: DatabasePool,
    private readonly now: () => number,
    /** Told of what each pass did, and of a database it could not write (tried again later). */
    private readonly report: (returned: ClaimsReturned[], failure?: unknown) => void = () => {},
  ) {}

  /** Returns the claims of the lease that ended: a seek of its notes, not a scan of all of them. */
  leaseEnded(leaseId: number): void {
    void this.queuePass(() => this.notes('SELECT lease_id, node_id FROM lease_claims WHERE lease_id = ? ORDER BY node_id', leaseId));
  }

  /** Returns the claims of every lease that no longer exists; resolves to what it did. */
  returnOrphanedClaims(): Promise<ClaimsReturned[]> {
    return this.queuePass(() =>
      this.notes('SELECT lease_id, node_id FROM lease_claims WHERE lease_id NOT IN (SELECT id FROM leases) ORDER BY lease_id, node_id'),
    );
  }

  /** Resolves once no pass is running: the server waits for it before closing the files. */
  async settled(): Promise<void> {
    await this.pass;
  }

  /** Stops retrying; the files are about to close. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private notes(sql: string, ...params: number[]): { leaseId: number; nodeId: string }[] {
    const rows = this.coordination.statement(sql).all(...params) as { lease_id: number; node_id: string }[];
    return rows.map((row) => ({ leaseId: row.lease_id, nodeId: row.node_id }));
  }

  private queuePass(select: () => { leaseId: number; nodeId: string }[]): Promise<ClaimsReturned[]> {
    this.pass = this.pass.then(() => this.returnNow(select));
    return this.pass;
  }

  /**
   * One pass. It never rejects, so that a failed pass does not stop the ones after it, and one
   * database that cannot be written does not keep the others' jobs from coming back.
   */
  private async returnNow(select: () => { leaseId: number; nodeId: string }[]): Promise<ClaimsReturned[]> {
    const returned: ClaimsReturned[] = [];
    let failure: unknown;
    try {
      for (const { leaseId, nodeId } of select()) {
        try {
          const jobs = await this.returnClaims(leaseId, nodeId);
          await this.coordination.write(() =>
            this.coordination.statement('DELETE FROM lease_claims WHERE lease_id = ? AND node_id = ?').run(leaseId, nodeId),
          );
          returned.push({ leaseId, nodeId, jobs });
        } catch (error) {
          failure ??= error;
        }
      }
    } catch (error) {
      failure ??= error;
    }
    if (returned.length > 0 || failure !== undefined) this.report(returned, failure);
    if (failure !== undefined) this.retryLater();
    else this.retryDelayMs = RETRY_FIRST_MS;
    return returned;
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.returnOrphanedClaims();
    }, this.retryDelayMs).unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS);
  }

  /**
   * Returns the lease's claims on one node, RETURN_CHUNK_JOBS per transaction: the event loop
   * runs between them, so that a lease that ends holding tens of thousands of claims does not
   * stall every other call while they go back (one transaction for 15,000 took 17 seconds).
   * A crash between chunks leaves the rest claimed and the lease's note in place, so that the
   * pass at start returns them.
   */
  private async returnClaims(leaseId: number, nodeId: string): Promise<number> {
    let total = 0;
    for (;;) {
      // Fetched again for every chunk: between two, the pool may have closed the database.
      const db = this.requesterDatabase(nodeId);
      if (db === undefined) return total;
      const { returned, frozen } = await db.write(() => {
        const returned = returnClaimsInTx(db, leaseId, this.now(), RETURN_CHUNK_JOBS);
        // A claim frozen by a drain is kept (and so is the lease's note here) until the drain has
        // either moved it, and its note on the target returns it there, or let it go, and it returns here.
        const frozen = returned < RETURN_CHUNK_JOBS ? (db.statement(FROZEN_CLAIMS_OF_LEASE_SQL).get(leaseId) as { n: number }).n : 0;
        return { returned, frozen };
      }, RETURN_CHUNK_JOBS);
      total += returned;
      if (frozen > 0) throw unavailable(`${frozen} jobs claimed under lease ${leaseId} on node ${nodeId} are being moved by a drain; they are returned once it is done`);
      if (returned < RETURN_CHUNK_JOBS) return total;
    }
  }

  /** The node's requester database; undefined when it is gone (deleted by hand): nothing is left to return there. */
  private requesterDatabase(nodeId: string): NodeDatabase | undefined {
    try {
      return this.pool.get('requester', nodeId, false);
    } catch (error) {
      if (isJobkeepError(error, 'NOT_FOUND')) return undefined;
      throw error;
    }
  }
}
