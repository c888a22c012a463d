import { failedPrecondition, notFound } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import { requireLiveLeaseInTx } from './lease-writes.js';
import type { Lock } from './lock-store.js';

export interface LockRow {
  name: string;
  holder_lease_id: number | null;
  fencing_token: number;
  acquire_time: number;
  lock_delay_ms: number;
  available_time: number;
}

/** What an attempt to take a lock found. */
export type AcquireAttempt =
  | { outcome: 'granted'; row: LockRow; reacquired: boolean }
  | { outcome: 'held'; row: LockRow }
  | { outcome: 'delayed'; row: LockRow; until: number };

const LOCK_COLUMNS = 'name, holder_lease_id, fencing_token, acquire_time, lock_delay_ms, available_time';

export function selectLockInTx(db: CoordinationDatabase, name: string): LockRow | undefined {
  return db.statement(`SELECT ${LOCK_COLUMNS} FROM locks WHERE name = ?`).get(name) as LockRow | undefined;
}

/**
 * Takes `name` for the lease if it is free and past any lock delay. The lease must be alive
 * (NOT_FOUND otherwise). A lease that already holds the lock gets its holding back unchanged.
 * Every new holding takes the next value of the one global fencing counter.
 */
export function tryAcquireInTx(db: CoordinationDatabase, name: string, leaseId: number, lockDelayMs: number, now: number): AcquireAttempt {
  requireLiveLeaseInTx(db, leaseId, now);
  const current = selectLockInTx(db, name);
  if (current !== undefined) {
    if (current.holder_lease_id === leaseId) return { outcome: 'granted', row: current, reacquired: true };
    if (current.holder_lease_id !== null) return { outcome: 'held', row: current };
    if (current.available_time > now) return { outcome: 'delayed', row: current, until: current.available_time };
  }
  const { value: token } = db
    .statement("UPDATE coordination_meta SET value = value + 1 WHERE key = 'fencing_token' RETURNING value")
    .get() as { value: number };
  const row = db
    .statement(
      `INSERT INTO locks (name, holder_lease_id, fencing_token, acquire_time, lock_delay_ms, available_time)
       VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT (name) DO UPDATE SET holder_lease_id = excluded.holder_lease_id, fencing_token = excluded.fencing_token,
         acquire_time = excluded.acquire_time, lock_delay_ms = excluded.lock_delay_ms, available_time = 0
       RETURNING ${LOCK_COLUMNS}`,
    )
    .get(name, leaseId, token, now, lockDelayMs) as LockRow;
  return { outcome: 'granted', row, reacquired: false };
}

/** Ends the holding named by lease and token; a stale or foreign one is FAILED_PRECONDITION. */
export function releaseInTx(db: CoordinationDatabase, name: string, leaseId: number, fencingToken: number): void {
  const current = selectLockInTx(db, name);
  if (current === undefined) throw notFound(`lock ${name} does not exist`);
  if (current.holder_lease_id !== leaseId || current.fencing_token !== fencingToken) {
    throw failedPrecondition(
      `lock ${name} is not held by lease ${leaseId} with token ${fencingToken}: ` +
        (current.holder_lease_id === null ? 'it is free' : `lease ${current.holder_lease_id} holds it with token ${current.fencing_token}`),
    );
  }
  db.statement('UPDATE locks SET holder_lease_id = NULL, available_time = 0 WHERE name = ?').run(name);
}

/** Frees the lock whoever holds it, lock delay included; NOT_FOUND for a lock never acquired. */
export function forceReleaseInTx(db: CoordinationDatabase, name: string): void {
  if (db.statement('UPDATE locks SET holder_lease_id = NULL, available_time = 0 WHERE name = ?').run(name).changes === 0) {
    throw notFound(`lock ${name} does not exist`);
  }
}

/** Locks from `prefix`, after `afterName`, in name order. */
export function listLocksInTx(db: CoordinationDatabase, prefix: string, afterName: string, limit: number): LockRow[] {
  // Names are ASCII, so U+FFFF (bytes EF BF BF) sorts after every name that starts with the prefix.
  return db
    .statement(`SELECT ${LOCK_COLUMNS} FROM locks WHERE name >= ? AND name < ? AND name > ? ORDER BY name LIMIT ?`)
    .all(prefix, `${prefix}\uffff`, afterName, limit) as LockRow[];
}

/** The locks a lease holds, by name. */
export function locksHeldByInTx(db: CoordinationDatabase, leaseId: number): string[] {
  return (db.statement('SELECT name FROM locks WHERE holder_lease_id = ? ORDER BY name').all(leaseId) as { name: string }[]).map((row) => row.name);
}

/**
 * A lock as clients see it: a free lock shows no token or acquire time of its own, and a lock
 * delay only while it lasts. Waiters live in the serving process, never in the file.
 */
export function lockFromRow(row: LockRow, waiterLeaseIds: number[], now: number): Lock {
  const held = row.holder_lease_id !== null;
  return {
    name: row.name,
    holderLeaseId: row.holder_lease_id,
    fencingToken: held ? row.fencing_token : 0,
    acquireTime: held ? row.acquire_time : undefined,
    waiterLeaseIds,
    availableTime: !held && row.available_time > now ? row.available_time : undefined,
  };
}
