import { aborted, invalidArgument } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import { readLockHolding } from './lock-holding.js';
import type { NodeDatabase } from './node-database.js';

/**
 * Proof, carried by a write, that it comes from the current holder of a lock: the lock's name
 * and the fencing token its holder was given. A write that carries one is made only while that
 * token is still the holding's.
 */
export interface LockGuard {
  lockName: string;
  fencingToken: number;
}

/** Checks a guard's form before any file is touched; undefined means the write is not fenced. */
export function checkLockGuard(guard: LockGuard | undefined): LockGuard | undefined {
  if (guard === undefined) return undefined;
  if (guard.lockName === '') throw invalidArgument('lock_guard.lock_name is required');
  if (!Number.isSafeInteger(guard.fencingToken) || guard.fencingToken <= 0) {
    throw invalidArgument(`lock_guard.fencing_token must be a token the lock service gave out, not ${guard.fencingToken}`);
  }
  return guard;
}

/**
 * Refuses (ABORTED) a fenced write unless `guard` names a lock that is held, by a live lease,
 * with exactly that token. Called first in the write's transaction body, so that a refused write
 * changes nothing. coordination.db is read outside that transaction, yet the check and the
 * commit are atomic: every store call and every lock change of this server runs synchronously
 * on one thread, so nothing can take or release the lock between this read and the commit.
 */
export function checkLockGuardInTx(coordination: CoordinationDatabase, guard: LockGuard | undefined, now: number): void {
  if (guard === undefined) return;
  const name = guard.lockName;
  const holding = readLockHolding(coordination, name);
  if (holding === undefined || holding.holderLeaseId === null) throw aborted(`lock ${name} is not held`);
  if (holding.fencingToken !== guard.fencingToken) {
    throw aborted(`lock ${name} is held with token ${holding.fencingToken}, not ${guard.fencingToken}`);
  }
  // A holder whose lease ran out has lost the lock even before the sweeper releases it.
  const lease = coordination.statement('SELECT expire_time FROM leases WHERE id = ?').get(holding.holderLeaseId) as
    | { expire_time: number }
    | undefined;
  if (lease === undefined || lease.expire_time <= now) {
    throw aborted(`lock ${name} is not held: the lease ${holding.holderLeaseId} of token ${guard.fencingToken} has expired`);
  }
}

/**
 * Runs `work` as a write transaction of the database `open` returns, checking `guard` first in
 * that transaction. The guard is also checked before the database is opened, so that a refused
 * create brings no file into being; the check inside the transaction is the one that counts,
 * since the write runs later, when its batch commits (group commit).
 */
export function writeGuarded<T>(
  coordination: CoordinationDatabase,
  guard: LockGuard | undefined,
  clock: () => number,
  open: () => NodeDatabase,
  work: (db: NodeDatabase, now: number) => T,
  records = 1,
): Promise<T> {
  checkLockGuardInTx(coordination, guard, clock());
  const db = open();
  return db.write(() => {
    const now = clock();
    checkLockGuardInTx(coordination, guard, now);
    return work(db, now);
  }, records);
}
