import { invalidArgument } from '@jobkeep/errors';
import { LEASE_LIMITS } from './lease-store.js';

/** Lease ids are positive integers handed out by Grant. */
export function checkLeaseId(leaseId: number, field = 'lease_id'): number {
  if (!Number.isSafeInteger(leaseId) || leaseId <= 0) {
    throw invalidArgument(`${field} is required (an id from Grant), not ${leaseId}`);
  }
  return leaseId;
}

/** TTLs below 2 s would expire between two keep-alives of any real client; above an hour, a dead holder blocks too long. */
export function checkTtlSeconds(ttlSeconds: number): number {
  const { minTtlSeconds, maxTtlSeconds } = LEASE_LIMITS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < minTtlSeconds || ttlSeconds > maxTtlSeconds) {
    throw invalidArgument(`ttl_seconds must be between ${minTtlSeconds} and ${maxTtlSeconds}, not ${ttlSeconds}`);
  }
  return ttlSeconds;
}
