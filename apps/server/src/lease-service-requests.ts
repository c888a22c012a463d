import type { LeaseService } from '@jobkeep/api';
import { LEASE_LIMITS } from '@jobkeep/store';
import { handedOut, integer, pageSize, pageToken, type ServiceRules } from './request-rules.js';

const leaseId = () => handedOut('a lease id from Grant');

/** Every field of every jobkeep.v1.LeaseService request (each KeepAlive message too). */
export const LEASE_SERVICE_REQUESTS: ServiceRules<typeof LeaseService> = {
  grant: { ttlSeconds: integer(LEASE_LIMITS.minTtlSeconds, LEASE_LIMITS.maxTtlSeconds) },
  keepAlive: { leaseId: leaseId() },
  revoke: { leaseId: leaseId() },
  timeToLive: { leaseId: leaseId() },
  list: { pageSize: pageSize(), pageToken: pageToken() },
};
