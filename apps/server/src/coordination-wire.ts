import type { MessageInitShape } from '@bufbuild/protobuf';
import type { LeaseSchema, LockSchema } from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import type { Lease, Lock } from '@jobkeep/store';
import { timestamp } from './wire-conversions.js';

/*
 * Leases and locks between the wire and the store. Ids and tokens are uint64 on the wire and
 * safe integers in coordination.db (an AUTOINCREMENT id or a counter that would take centuries
 * to pass 2^53); 0 means "none" on the wire, null in the store.
 */

/** A wire id or token as a store number; its range and presence are checked by the store. */
export function storeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${field} ${value} is beyond any ${field} this server hands out`);
  return Number(value);
}

export function leaseToWire(lease: Lease): MessageInitShape<typeof LeaseSchema> {
  return {
    id: BigInt(lease.id),
    ttlSeconds: BigInt(lease.ttlSeconds),
    expireTime: timestamp(lease.expireTime),
    grantTime: timestamp(lease.grantTime),
  };
}

export function lockToWire(lock: Lock): MessageInitShape<typeof LockSchema> {
  return {
    name: lock.name,
    holderLeaseId: BigInt(lock.holderLeaseId ?? 0),
    fencingToken: BigInt(lock.fencingToken),
    acquireTime: lock.acquireTime === undefined ? undefined : timestamp(lock.acquireTime),
    waiterLeaseIds: lock.waiterLeaseIds.map(BigInt),
    availableTime: lock.availableTime === undefined ? undefined : timestamp(lock.availableTime),
  };
}
