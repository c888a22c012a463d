import { createLeaseClient, createLockClient, isJobkeepError, type LockServiceClient } from '@jobkeep/client';

/** Long enough that no lease of the load expires during a run; a restart refreshes it anyway. */
const LEASE_TTL_SECONDS = 3600n;

/**
 * One lock of the load, as the replies it received describe it: held or not, and the fencing
 * token of the last acknowledged acquire. Only its own locker takes it, so nothing else moves it.
 */
export interface TrackedLock {
  name: string;
  leaseId: bigint;
  held: boolean;
  /** 0 until the first acquire is acknowledged. */
  token: bigint;
  /** An acquire or release in flight at a kill: it may or may not have committed. */
  inDoubt?: 'acquire' | 'release';
}

/** Every lease and lock of the lock load, and its counts. */
export class LockLedger {
  readonly locks: TrackedLock[] = [];
  readonly leases: bigint[] = [];
  acknowledged = 0;
  inDoubt = 0;
  verified = 0;
}

/**
 * Starts `lockers` that each take a lease, then acquire and release a lock of their own, over
 * and over, durably in coordination.db, until stopped; for the checks of `checkLocksAfterRestart`.
 */
export function startLockLoad(address: string, lockers: number, cycle: number, ledger: LockLedger, problems: string[]) {
  let stopped = false;
  const locker = async (index: number) => {
    const leases = createLeaseClient(address, { retries: false });
    const locks = createLockClient(address, { retries: false });
    try {
      const leaseId = (await leases.grant({ ttlSeconds: LEASE_TTL_SECONDS })).lease!.id;
      ledger.leases.push(leaseId);
      ledger.acknowledged++;
      const lock: TrackedLock = { name: `/crash/c${cycle}-l${index}`, leaseId, held: false, token: 0n };
      ledger.locks.push(lock);
      while (!stopped) await (lock.held ? release(locks, lock) : acquire(locks, lock));
    } catch (error) {
      if (!stopped) problems.push(`cycle ${cycle}: locker ${index} failed before the kill: ${(error as Error).message}`);
    } finally {
      leases.close();
      locks.close();
    }
  };
  const acquire = async (locks: LockServiceClient, lock: TrackedLock) => {
    lock.inDoubt = 'acquire';
    const reply = await locks.acquire({ name: lock.name, leaseId: lock.leaseId }).catch(inDoubt);
    lock.inDoubt = undefined;
    if (reply.fencingToken <= lock.token) problems.push(`cycle ${cycle}: ${lock.name} was acquired with token ${reply.fencingToken}, after ${lock.token}`);
    lock.held = true;
    lock.token = reply.fencingToken;
    ledger.acknowledged++;
  };
  const release = async (locks: LockServiceClient, lock: TrackedLock) => {
    lock.inDoubt = 'release';
    await locks.release({ name: lock.name, leaseId: lock.leaseId, fencingToken: lock.token }).catch(inDoubt);
    lock.inDoubt = undefined;
    lock.held = false;
    ledger.acknowledged++;
  };
  // A call cut by the kill stays in doubt (the locker stops); before the kill, it is a finding.
  const inDoubt = (error: unknown): never => {
    if (stopped) ledger.inDoubt++;
    throw error;
  };
  const running = Promise.all(Array.from({ length: lockers }, (_, index) => locker(index)));
  return {
    stop: () => {
      stopped = true;
    },
    finished: running.then(() => undefined),
  };
}

/**
 * Checks a restarted server against every acknowledged lease and lock write: each lease is
 * still there; each lock is held by its lease with the token of its last acknowledged acquire,
 * or free if its last acknowledged write was a release. A write in doubt may have committed or
 * not, but nothing else: an acquire in doubt leaves the lock free or held with a newer token, a
 * release in doubt leaves it free or held as it was.
 */
export async function checkLocksAfterRestart(address: string, ledger: LockLedger, problems: string[], cycle: number): Promise<void> {
  const leases = createLeaseClient(address);
  const locks = createLockClient(address);
  try {
    for (const leaseId of ledger.leases) {
      ledger.verified++;
      const ttl = await leases.timeToLive({ leaseId }).catch((error: unknown) => (isJobkeepError(error) && error.code === 'NOT_FOUND' ? undefined : Promise.reject(error)));
      if (ttl === undefined) problems.push(`after cycle ${cycle}: lease ${leaseId}, granted and acknowledged, is gone`);
    }
    for (const lock of ledger.locks) {
      ledger.verified++;
      const found = await locks.get({ name: lock.name }).catch((error: unknown) => (isJobkeepError(error) && error.code === 'NOT_FOUND' ? undefined : Promise.reject(error)));
      const holder = found?.lock?.holderLeaseId ?? 0n;
      const token = found?.lock?.fencingToken ?? 0n;
      const held = holder === lock.leaseId && token === lock.token;
      // A release deletes the lock's row; the next acquire's token comes from a counter that
      // only grows, which the load checks at each acquire.
      const free = holder === 0n;
      const acquiredInDoubt = lock.inDoubt === 'acquire' && holder === lock.leaseId && token > lock.token;
      const fits = lock.inDoubt === undefined ? (lock.held ? held : free) : lock.inDoubt === 'acquire' ? free || acquiredInDoubt : held || free;
      if (!fits) {
        problems.push(
          `after cycle ${cycle}: ${lock.name} was acknowledged ${lock.held ? `held with token ${lock.token}` : 'released'}` +
            `${lock.inDoubt === undefined ? '' : ` (an ${lock.inDoubt} in doubt)`}, but the server shows holder ${holder}, token ${token}`,
        );
        continue;
      }
      lock.held = holder === lock.leaseId;
      if (lock.held) lock.token = token;
      lock.inDoubt = undefined;
    }
  } finally {
    leases.close();
    locks.close();
  }
}
