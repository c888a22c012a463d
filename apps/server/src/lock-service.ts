import type {
  AcquireRequest,
  CallContext,
  ForceReleaseRequest,
  LockServiceGetRequest,
  LockServiceListRequest,
  ReleaseRequest,
} from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import type { LockStore } from '@jobkeep/store';
import { lockToWire, storeNumber } from './coordination-wire.js';

/**
 * Locks the server takes for itself, such as the drain lock (/jobkeep/drain) that keeps a second
 * drain from running. The server takes them through its store, in process; a client that could
 * take, release or force-release one (a lock's holder and token are visible to Get) could run two
 * drains at once. Get and List stay open: they only show who holds what.
 */
export const RESERVED_LOCK_PREFIX = '/jobkeep/';

function clientLockName(name: string): string {
  if (name.startsWith(RESERVED_LOCK_PREFIX)) throw invalidArgument(`lock names under ${RESERVED_LOCK_PREFIX} are reserved for the server; ${name} is one`);
  return name;
}

/**
 * jobkeep.v1.LockService. A waiting Acquire passes the call's signal on, so that a client that
 * gives up (its deadline, a cancel, a closed connection) leaves the line at once rather than
 * being granted a lock nobody is there to use.
 */
export function lockServiceHandlers(locks: LockStore) {
  return {
    async acquire(request: AcquireRequest, context: CallContext) {
      const acquired = await locks.acquire({
        name: clientLockName(request.name),
        leaseId: storeNumber(request.leaseId, 'lease_id'),
        wait: request.wait,
        waitTimeoutMs: request.waitTimeoutMs,
        lockDelayMs: request.lockDelayMs,
        signal: context.signal,
      });
      return { lock: lockToWire(acquired.lock), fencingToken: BigInt(acquired.fencingToken) };
    },

    async release(request: ReleaseRequest) {
      await locks.release(clientLockName(request.name), storeNumber(request.leaseId, 'lease_id'), storeNumber(request.fencingToken, 'fencing_token'));
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
      await locks.forceRelease(clientLockName(request.name));
      return {};
    },
  };
}
