import { notFound } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { Page, PageRequest } from './job-store.js';
import type { Lease, LeaseOwner, LeaseStore, LeaseTimeToLive } from './lease-store.js';
import { checkLeaseId, checkTtlSeconds } from './lease-validation.js';
import {
  endLeaseInTx,
  grantLeaseInTx,
  leaseFromRow,
  renewLeaseInTx,
  requireLiveLeaseInTx,
  selectLeaseOwnerInTx,
  selectLiveLeaseInTx,
  type LeaseRow,
} from './lease-writes.js';
import type { LeaseEndListener } from './lock-manager.js';
import { locksHeldByInTx } from './lock-writes.js';
import { checkPageSize, decodePageToken, encodePageToken, queryFingerprint } from './page-token.js';

/**
 * Leases in coordination.db, one decision per call, answered once committed. Ending a lease
 * releases its locks in the same decision; `ended` then hands each released lock to its next
 * waiter, in the same turn, so that the grants commit with the end.
 */
export class SqliteLeaseStore implements LeaseStore {
  constructor(
    private readonly db: CoordinationDatabase,
    private readonly ended: LeaseEndListener,
    private readonly now: () => number = Date.now,
  ) {}

  async grant(ttlSeconds: number, owner: LeaseOwner = { kind: 'anyone' }): Promise<Lease> {
    checkTtlSeconds(ttlSeconds);
    return this.db.write(() => grantLeaseInTx(this.db, ttlSeconds, owner, this.now()));
  }

  async ownerOf(leaseId: number): Promise<LeaseOwner | 'ended' | undefined> {
    checkLeaseId(leaseId);
    return this.db.readCommitted(() => selectLeaseOwnerInTx(this.db, leaseId));
  }

  async keepAlive(leaseId: number): Promise<Lease> {
    checkLeaseId(leaseId);
    return this.db.write(() => renewLeaseInTx(this.db, leaseId, this.now()));
  }

  async revoke(leaseId: number): Promise<void> {
    checkLeaseId(leaseId);
    const { live } = await this.db.write(
      () => {
        const now = this.now();
        // A lease past its expiry that the sweeper has not reached yet ends as expired, lock delays included.
        const alive = selectLiveLeaseInTx(this.db, leaseId, now) !== undefined;
        return { live: alive, released: endLeaseInTx(this.db, leaseId, now, !alive) };
      },
      ({ released }) => {
        if (released !== undefined) this.ended.leaseEnded(leaseId, released);
      },
    );
    if (!live) throw notFound(`lease ${leaseId} does not exist: it expired, was revoked or was never granted`);
  }

  async timeToLive(leaseId: number): Promise<LeaseTimeToLive> {
    checkLeaseId(leaseId);
    const now = this.now();
    return this.db.readCommitted(() => {
      const lease = leaseFromRow(requireLiveLeaseInTx(this.db, leaseId, now));
      const nodes = this.db.statement('SELECT id FROM nodes WHERE lease_id = ? ORDER BY id').all(leaseId) as { id: string }[];
      return { lease, remainingMs: lease.expireTime - now, locks: locksHeldByInTx(this.db, leaseId), nodes: nodes.map((row) => row.id) };
    });
  }

  async list(page: PageRequest): Promise<Page<Lease>> {
    const pageSize = checkPageSize(page.pageSize);
    const fingerprint = queryFingerprint({ leases: true });
    const afterId = decodePageToken(page.pageToken, fingerprint)?.after[0] ?? 0;
    const rows = await this.db.readCommitted(
      () =>
        this.db
          .statement('SELECT id, ttl_ms, grant_time, expire_time FROM leases WHERE id > ? AND expire_time > ? ORDER BY id LIMIT ?')
          .all(afterId, this.now(), pageSize + 1) as LeaseRow[],
    );
    const items = rows.slice(0, pageSize).map(leaseFromRow);
    const last = items.at(-1);
    return { items, nextPageToken: rows.length > pageSize && last !== undefined ? encodePageToken({ after: [last.id, ''] }, fingerprint) : '' };
  }

  async expireDue(): Promise<number[]> {
    const now = this.now();
    const due = this.db.statement('SELECT id FROM leases WHERE expire_time <= ? ORDER BY expire_time, id').all(now) as { id: number }[];
    const expired: number[] = [];
    // One decision per lease, so that one lease's locks and nodes go together; a long backlog
    // commits in batches of the group commit's bound.
    for (const { id } of due) {
      const released = this.db.decide(() => (selectLiveLeaseInTx(this.db, id, now) === undefined ? endLeaseInTx(this.db, id, now, true) : undefined));
      if (released === undefined) continue;
      expired.push(id);
      this.ended.leaseEnded(id, released);
    }
    await this.db.committed();
    return expired;
  }

  nextExpiry(): number | undefined {
    const row = this.db.statement('SELECT MIN(expire_time) AS next FROM leases').get() as { next: number | null };
    return row.next ?? undefined;
  }
}
