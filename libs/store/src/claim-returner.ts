import { isJobkeepError } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { DatabasePool } from './database-pool.js';
import type { LeaseEndListener } from './lock-manager.js';
import { returnClaimsInTx } from './work-queue-writes.js';

/** What one return of claims did. */
export interface ClaimsReturned {
  leaseId: number;
  nodeId: string;
  jobs: number;
}

/**
 * Hands the jobs claimed under ended leases back to their queues. ClaimJob notes in
 * coordination.db (lease_claims) every requester database a lease claims from, before the claim
 * commits; when the lease ends, each of those databases gets one transaction that returns the
 * lease's jobs, and only then is the note deleted. A crash in between leaves the note behind
 * with no lease, and the next pass (at start, or at any lease's end) finishes the work.
 */
export class ClaimReturner implements LeaseEndListener {
  /** Passes run one after another, so that two never return the same lease's jobs at once. */
  private pass: Promise<ClaimsReturned[]> = Promise.resolve([]);

  constructor(
    private readonly coordination: CoordinationDatabase,
    private readonly pool: DatabasePool,
    private readonly now: () => number,
    /** Told of what each pass did, and of a database it could not reach (tried again next pass). */
    private readonly report: (returned: ClaimsReturned[], failure?: unknown) => void = () => {},
  ) {}

  leaseEnded(): void {
    void this.returnOrphanedClaims();
  }

  /** Returns the claims of every lease that no longer exists; resolves to what it did. */
  returnOrphanedClaims(): Promise<ClaimsReturned[]> {
    this.pass = this.pass.then(() => this.returnNow());
    return this.pass;
  }

  /** Resolves once no pass is running: the server waits for it before closing the files. */
  async settled(): Promise<void> {
    await this.pass;
  }

  /**
   * One pass. It never rejects, so that a failed pass does not stop the ones after it, and one
   * database that cannot be reached does not keep the others' jobs from coming back.
   */
  private async returnNow(): Promise<ClaimsReturned[]> {
    const returned: ClaimsReturned[] = [];
    let failure: unknown;
    try {
      const orphans = this.coordination
        .statement('SELECT lease_id, node_id FROM lease_claims WHERE lease_id NOT IN (SELECT id FROM leases) ORDER BY lease_id, node_id')
        .all() as { lease_id: number; node_id: string }[];
      for (const { lease_id: leaseId, node_id: nodeId } of orphans) {
        try {
          const jobs = await this.returnClaims(leaseId, nodeId);
          this.coordination.write(() =>
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
    return returned;
  }

  private async returnClaims(leaseId: number, nodeId: string): Promise<number> {
    let db;
    try {
      db = this.pool.get('requester', nodeId, false);
    } catch (error) {
      // The database is gone (deleted by hand): there is nothing left to return.
      if (isJobkeepError(error, 'NOT_FOUND')) return 0;
      throw error;
    }
    return db.write(() => returnClaimsInTx(db, leaseId, this.now()));
  }
}
