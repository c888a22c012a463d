import type { Page, PageRequest } from './job-store.js';

/** A lease in coordination.db. Times are milliseconds since the epoch. */
export interface Lease {
  id: number;
  /** The TTL each keep-alive renews the lease to. */
  ttlSeconds: number;
  grantTime: number;
  expireTime: number;
}

/** A lease, how long it has left and what would go with it. */
export interface LeaseTimeToLive {
  lease: Lease;
  remainingMs: number;
  /** Names of the locks the lease holds. */
  locks: string[];
  /** Ids of the nodes registered under the lease. */
  nodes: string[];
}

/**
 * Whose a lease is, recorded at its grant and never changed. `anyone`: granted while the server
 * checked no tokens (or before owners were recorded). `token`: granted with an access token
 * scoped to `nodeIds`, empty for a token scoped to every node.
 */
export type LeaseOwner = { kind: 'anyone' } | { kind: 'token'; nodeIds: readonly string[] };

/** Bounds of a lease's TTL, in seconds. */
export const LEASE_LIMITS = { minTtlSeconds: 2, maxTtlSeconds: 3600 } as const;

/**
 * Leases: ZooKeeper's sessions, Consul's sessions, etcd's leases. When a lease ends, by
 * revocation or expiry, its locks are released (each to the next waiter in line) and the nodes
 * registered under it go offline.
 */
export interface LeaseStore {
  /** A new lease of `ttlSeconds` (2 to 3600), owned by `owner` (anyone by default). Ids are never reused. */
  grant(ttlSeconds: number, owner?: LeaseOwner): Promise<Lease>;
  /**
   * Whose lease `leaseId` is while its row lasts (past its expiry too, until the sweeper ends
   * it); `ended` once it is gone, for good since ids are never reused; undefined when no lease
   * has had that id yet.
   */
  ownerOf(leaseId: number): Promise<LeaseOwner | 'ended' | undefined>;
  /** Renews a live lease to its full TTL; NOT_FOUND once it expired or was revoked. */
  keepAlive(leaseId: number): Promise<Lease>;
  /** Ends a lease now; NOT_FOUND when it is already gone. */
  revoke(leaseId: number): Promise<void>;
  timeToLive(leaseId: number): Promise<LeaseTimeToLive>;
  /** The live leases by id. */
  list(page: PageRequest): Promise<Page<Lease>>;
  /** Ends every lease past its expire time; returns their ids, oldest expiry first. */
  expireDue(): Promise<number[]>;
  /** When the next lease expires unless kept alive; undefined when there is none. */
  nextExpiry(): number | undefined;
}
