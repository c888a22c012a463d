import type { LockService, TypedClient } from '@jobkeep/api';
import { grantLease, type LeaseServiceClient } from './lease-keeper.js';

export type LockServiceClient = TypedClient<typeof LockService>;

/** What `withLock` hands the function it runs under the lock. */
export interface HeldLock {
  readonly name: string;
  readonly leaseId: bigint;
  readonly fencingToken: bigint;
  /** Pass as `lockGuard` on store writes, so that they fail once the lock is no longer held. */
  readonly guard: { lockName: string; fencingToken: bigint };
  /** Aborted when the lease behind the lock is lost: stop working, the lock is gone. */
  readonly signal: AbortSignal;
}

export interface WithLockOptions {
  /** How long to wait for the lock (DEADLINE_EXCEEDED after); waits until granted by default. */
  timeoutMs?: number;
  /** The TTL of the lease the lock is held with; 10 s by default. */
  ttlSeconds?: number;
  /** After an expiry of the lease, how long the lock stays unavailable to others. */
  lockDelayMs?: number;
  /** Gives up waiting, or aborts `fn`'s signal, when aborted. */
  signal?: AbortSignal;
}

/**
 * The deadline of a wait "until granted": a week. grpc-js servers read a deadline sent in
 * seconds back into a 32-bit count of milliseconds, so anything past about 24 days overflows
 * into an immediate DEADLINE_EXCEEDED.
 */
const FOREVER_MS = 7 * 24 * 3_600_000;

/**
 * Runs `fn` while holding the lock `name`: grants a lease and keeps it alive, waits in line for
 * the lock, hands `fn` the fencing token and a signal that aborts if the lease is lost, and
 * afterwards revokes the lease, which releases the lock to the next in line. A lock alone is no
 * promise of exclusion; store writes made with `guard` are refused once the token is stale.
 */
export async function withLock<T>(
  clients: { leases: LeaseServiceClient; locks: LockServiceClient },
  name: string,
  fn: (lock: HeldLock) => Promise<T>,
  options: WithLockOptions = {},
): Promise<T> {
  const lease = await grantLease(clients.leases, options.ttlSeconds ?? 10);
  try {
    const signal = options.signal === undefined ? lease.signal : AbortSignal.any([lease.signal, options.signal]);
    const timeoutMs = options.timeoutMs ?? 0;
    const { fencingToken } = await clients.locks.acquire(
      { name, leaseId: lease.leaseId, wait: true, waitTimeoutMs: timeoutMs, lockDelayMs: options.lockDelayMs ?? 0 },
      // The server's wait timeout decides; the call's deadline only keeps a lost reply from hanging.
      { signal, deadlineMs: timeoutMs > 0 ? timeoutMs + 5000 : FOREVER_MS },
    );
    return await fn({ name, leaseId: lease.leaseId, fencingToken, guard: { lockName: name, fencingToken }, signal });
  } finally {
    await lease.stop({ revoke: true });
  }
}
