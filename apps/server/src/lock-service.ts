import type {
  AcquireRequest,
  CallContext,
  ForceReleaseRequest,
  LockServiceGetRequest,
  LockServiceListRequest,
  ReleaseRequest,
} from '@jobkeep/api';
import type { LockStore } from '@jobkeep/store';
import { lockToWire, storeNumber } from './coordination-wire.js';

/**
 * jobkeep.v1.LockService, whose requests arrive checked (lock-service-requests.ts: names under
 * the server's reserved prefix are refused there). A waiting Acquire passes the call's signal on, so that a client that
 * gives up (its deadline, a cancel, a closed connection) leaves the line at once rather than
 * being granted a lock nobody is there to use.
 */
export function lockServiceHandlers(locks: LockStore) {
  return {
    async acquire(request: AcquireRequest, context: CallContext) {
      const acquired = await locks.acquire({
        name: request.name,
        leaseId: storeNumber(request.leaseId, 'lease_id'),
        wait: request.wait,
        waitTimeoutMs: request.waitTimeoutMs,
        lockDelayMs: request.lockDelayMs,
        signal: context.signal,
      });
      return { lock: lockToWire(acquired.lock), fencingToken: BigInt(acquired.fencingToken) };
    },

    async release(request: ReleaseRequest) {
      await locks.release(request.name, storeNumber(request.leaseId, 'lease_id'), storeNumber(request.fencingToken, 'fencing_token'));
      return {};
    },

    async get(request: LockServiceGetRequest) {
      return { lock: lockToWire(await locks.get(request.name)) };
    },

    async list(request: LockServiceListRequest) {
      const page = await locks.list({ prefix: request.prefix, pageSize: request.pageSize, pageToken: request.pageToken });
      return { locks: page.items.map(lockToWire), nextPageToken: page.nextPageToken };
    },

    // Open to every caller for now; it will be restricted to administrators once authentication exists.
    async forceRelease(request: ForceReleaseRequest) {
      await locks.forceRelease(request.name);
      return {};
    },
  };
}
