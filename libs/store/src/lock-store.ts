import type { Page, PageRequest } from './job-store.js';

/** A lock as clients see it. Times are milliseconds since the epoch. */
export interface Lock {
  name: string;
  /** The holding lease, or null when the lock is free. */
  holderLeaseId: number | null;
  /** The token of the current holding; 0 when free. */
  fencingToken: number;
  /** When the current holding began; undefined when free. */
  acquireTime: number | undefined;
  /** Leases waiting for the lock, first in line first. */
  waiterLeaseIds: number[];
  /** Set while a lock delay keeps the lock from everyone (its holder's lease expired). */
  availableTime: number | undefined;
}

export interface AcquireInput {
  name: string;
  leaseId: number;
  /** Wait in line when the lock is held; otherwise a held lock is FAILED_PRECONDITION at once. */
  wait?: boolean;
  /** With `wait`: DEADLINE_EXCEEDED after this long; 0 or absent waits until granted or `signal`. */
  waitTimeoutMs?: number;
  /** If this holding ends because its lease expired, the lock stays unavailable this long (≤ 60000). */
  lockDelayMs?: number;
  /** Aborting it (the call's deadline, a client that went away) takes the waiter out of line. */
  signal?: AbortSignal;
}

export interface Acquired {
  lock: Lock;
  fencingToken: number;
}

export interface LockQuery extends PageRequest {
  /** Locks whose name starts with this; all when empty. */
  prefix?: string;
}

export const LOCK_LIMITS = {
  maxNameLength: 512,
  maxLockDelayMs: 60_000,
  /** The longest wait_timeout_ms: what a Node timer can hold. */
  maxWaitTimeoutMs: 2 ** 31 - 1,
} as const;

/**
 * Locks with fencing tokens. Tokens come from ONE counter for the whole coordination database,
 * bumped on every acquisition of any lock: a token is larger than every token handed out before
 * it, whatever the lock. Waiters are served first in, first out; a release wakes only the next.
 */
export interface LockStore {
  /**
   * Takes the lock for a lease. Acquiring a lock the lease already holds is idempotent: it
   * returns the current holding and token unchanged (its lock delay too).
   */
  acquire(input: AcquireInput): Promise<Acquired>;
  /** Ends the holding named by lease and token; anything else is FAILED_PRECONDITION. */
  release(name: string, leaseId: number, fencingToken: number): Promise<void>;
  /** NOT_FOUND for a lock that was never acquired. */
  get(name: string): Promise<Lock>;
  list(query: LockQuery): Promise<Page<Lock>>;
  /**
   * Takes the lock from whoever holds it (no lock delay) and gives it to the next waiter. Meant
   * for administrators; it will be restricted to them once authentication exists.
   */
  forceRelease(name: string): Promise<void>;
}
