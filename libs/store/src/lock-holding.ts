import type { CoordinationDatabase } from './coordination-database.js';

/** Who holds a lock right now, as coordination.db records it. */
export interface LockHolding {
  /** The lease holding the lock, or null when the lock is free. */
  holderLeaseId: number | null;
  /** The token of the current (or, when free, the last) holding. Tokens come from one global counter. */
  fencingToken: number;
}

/**
 * Reads a lock's holding synchronously, for fencing checks made by writes to other databases.
 * Every store operation runs synchronously on one thread, so reading this immediately before or
 * inside another database's write transaction is atomic with respect to lock changes made by
 * this process. Returns undefined for a lock that has never been acquired.
 */
export function readLockHolding(
  coordination: CoordinationDatabase,
  lockName: string,
): { holderLeaseId: number | null; fencingToken: number } | undefined {
  const row = coordination
    .statement('SELECT holder_lease_id, fencing_token FROM locks WHERE name = ?')
    .get(lockName) as { holder_lease_id: number | null; fencing_token: number } | undefined;
  if (row === undefined) return undefined;
  return { holderLeaseId: row.holder_lease_id, fencingToken: row.fencing_token };
}
