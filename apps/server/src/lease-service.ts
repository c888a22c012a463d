import type {
  GrantRequest,
  KeepAliveRequest,
  LeaseServiceListRequest,
  RevokeRequest,
  TimeToLiveRequest,
} from '@jobkeep/api';
import type { CallContext } from '@jobkeep/api';
import { unavailable } from '@jobkeep/errors';
import type { LeaseStore } from '@jobkeep/store';
import { grantedLeaseOwner } from './access-policy.js';
import { callerOf } from './call-authentication.js';
import { leaseToWire, storeNumber } from './coordination-wire.js';
import { timestamp } from './wire-conversions.js';

/**
 * jobkeep.v1.LeaseService. `stopping` is aborted when the server starts shutting down: open
 * keep-alive streams then end with UNAVAILABLE instead of holding the shutdown.
 */
export function leaseServiceHandlers(leases: LeaseStore, stopping: AbortSignal) {
  return {
    async grant(request: GrantRequest, context: CallContext) {
      // int64 on the wire: an absurd value becomes a number the store refuses by its range.
      return { lease: leaseToWire(await leases.grant(Number(request.ttlSeconds), grantedLeaseOwner(callerOf(context)))) };
    },

    async *keepAlive(requests: AsyncIterable<KeepAliveRequest>) {
      for await (const request of untilStopped(requests, stopping)) {
        // NOT_FOUND (expired or revoked) ends the stream: the holder has lost what the lease held.
        const lease = await leases.keepAlive(storeNumber(request.leaseId, 'lease_id'));
        yield { leaseId: BigInt(lease.id), ttlSeconds: BigInt(lease.ttlSeconds), expireTime: timestamp(lease.expireTime) };
      }
    },

    async revoke(request: RevokeRequest) {
      await leases.revoke(storeNumber(request.leaseId, 'lease_id'));
      return {};
    },

    async timeToLive(request: TimeToLiveRequest) {
      const found = await leases.timeToLive(storeNumber(request.leaseId, 'lease_id'));
      return { lease: leaseToWire(found.lease), remainingMs: BigInt(found.remainingMs), locks: found.locks, nodes: found.nodes };
    },

    async list(request: LeaseServiceListRequest) {
      const page = await leases.list({ pageSize: request.pageSize, pageToken: request.pageToken });
      return { leases: page.items.map(leaseToWire), nextPageToken: page.nextPageToken };
    },
  };
}

/** The requests until the stream ends or the server starts stopping (UNAVAILABLE). */
async function* untilStopped<T>(requests: AsyncIterable<T>, stopping: AbortSignal): AsyncGenerator<T> {
  const iterator = requests[Symbol.asyncIterator]();
  let onAbort = () => {};
  const stopped = new Promise<'stopped'>((resolve) => {
    onAbort = () => resolve('stopped');
    if (stopping.aborted) onAbort();
    else stopping.addEventListener('abort', onAbort, { once: true });
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), stopped]);
      if (next === 'stopped') throw unavailable('the server is shutting down: keep the lease alive again once it is back');
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    stopping.removeEventListener('abort', onAbort);
  }
}
