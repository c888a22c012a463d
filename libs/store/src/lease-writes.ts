import { notFound } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { Lease, LeaseOwner } from './lease-store.js';
import type { Stall } from './stall-watch.js';

export interface LeaseRow {
  id: number;
  ttl_ms: number;
  grant_time: number;
  expire_time: number;
}

export function leaseFromRow(row: LeaseRow): Lease {
  return { id: row.id, ttlSeconds: row.ttl_ms / 1000, grantTime: row.grant_time, expireTime: row.expire_time };
}

/** The lease if it is alive at `now`: one past its expire time is gone even before the sweeper ends it. */
export function selectLiveLeaseInTx(db: CoordinationDatabase, leaseId: number, now: number): LeaseRow | undefined {
  return db
    .statement('SELECT id, ttl_ms, grant_time, expire_time FROM leases WHERE id = ? AND expire_time > ?')
    .get(leaseId, now) as LeaseRow | undefined;
}

export function requireLiveLeaseInTx(db: CoordinationDatabase, leaseId: number, now: number): LeaseRow {
  const row = selectLiveLeaseInTx(db, leaseId, now);
  if (row === undefined) throw notFound(`lease ${leaseId} does not exist: it expired, was revoked or was never granted`);
  return row;
}

export function grantLeaseInTx(db: CoordinationDatabase, ttlSeconds: number, owner: LeaseOwner, now: number): Lease {
  const ttlMs = ttlSeconds * 1000;
  const ownerNodeIds = owner.kind === 'anyone' ? null : JSON.stringify(owner.nodeIds);
  const row = db
    .statement('INSERT INTO leases (ttl_ms, grant_time, expire_time, owner_node_ids) VALUES (?, ?, ?, ?) RETURNING id, ttl_ms, grant_time, expire_time')
    .get(ttlMs, now, now + ttlMs, ownerNodeIds) as LeaseRow;
  return leaseFromRow(row);
}

/** See LeaseStore.ownerOf. */
export function selectLeaseOwnerInTx(db: CoordinationDatabase, leaseId: number): LeaseOwner | 'ended' | undefined {
  const row = db.statement('SELECT owner_node_ids FROM leases WHERE id = ?').get(leaseId) as { owner_node_ids: string | null } | undefined;
  if (row !== undefined) {
    return row.owner_node_ids === null ? { kind: 'anyone' } : { kind: 'token', nodeIds: JSON.parse(row.owner_node_ids) as string[] };
  }
  // AUTOINCREMENT keeps the highest id ever granted in sqlite_sequence.
  const last = db.statement("SELECT seq FROM sqlite_sequence WHERE name = 'leases'").get() as { seq: number } | undefined;
  return leaseId <= (last?.seq ?? 0) ? 'ended' : undefined;
}

export function renewLeaseInTx(db: CoordinationDatabase, leaseId: number, now: number): Lease {
  const row = db
    .statement('UPDATE leases SET expire_time = ? + ttl_ms WHERE id = ? AND expire_time > ? RETURNING id, ttl_ms, grant_time, expire_time')
    .get(now, leaseId, now) as LeaseRow | undefined;
  if (row === undefined) throw notFound(`lease ${leaseId} has expired or been revoked`);
  return leaseFromRow(row);
}

/**
 * Ends a lease: releases its locks and deletes it, which takes its nodes offline (their
 * lease_id goes NULL by foreign key). A lock released because its lease `expired` stays
 * unavailable for its holding's lock delay; a revoked lease's locks are free at once, since
 * its holder said it was done. Returns the names of the released locks, or undefined when the
 * lease did not exist.
 */
export function endLeaseInTx(db: CoordinationDatabase, leaseId: number, now: number, expired: boolean): string[] | undefined {
  const released = db
    .statement(
      `UPDATE locks SET holder_lease_id = NULL,
         available_time = CASE WHEN ? AND lock_delay_ms > 0 THEN ? + lock_delay_ms ELSE 0 END
       WHERE holder_lease_id = ? RETURNING name`,
    )
    .all(expired ? 1 : 0, now, leaseId) as { name: string }[];
  const deleted = db.statement('DELETE FROM leases WHERE id = ?').run(leaseId).changes;
  return deleted === 0 ? undefined : released.map((row) => row.name).sort();
}

/**
 * Gives every lease a full TTL from `now`. Run when storage opens, as etcd does after a
 * restart: time the server was down must not count against holders that could not reach it.
 */
export function refreshLeasesInTx(db: CoordinationDatabase, now: number): number {
  return db.statement('UPDATE leases SET expire_time = ? + ttl_ms').run(now).changes;
}

/**
 * Gives back to every lease alive at `stall.sinceMs` the time the server stood still (see
 * StallWatch): a lease the server could not renew because it ran nothing must not end for it.
 * Returns how many leases were given the time.
 */
export function creditStallInTx(db: CoordinationDatabase, stall: Stall): number {
  return db.statement('UPDATE leases SET expire_time = expire_time + ? WHERE expire_time > ?').run(stall.lengthMs, stall.sinceMs).changes;
}
