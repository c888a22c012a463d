import type { LockService } from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import { LOCK_LIMITS, checkLockName, checkLockPrefix } from '@jobkeep/store';
import { anyValue, handedOut, integer, lockName, pageSize, pageToken, value, type ServiceRules } from './request-rules.js';

/**
 * Locks the server takes for itself, such as the drain lock (/jobkeep/drain) that keeps a second
 * drain from running. The server takes them through its store, in process; a client that could
 * take, release or force-release one (a lock's holder and token are visible to Get) could run two
 * drains at once. Get and List stay open: they only show who holds what.
 */
export const RESERVED_LOCK_PREFIX = '/jobkeep/';

/** A lock a client may take, release or force-release: any lock name outside the reserved prefix. */
const clientLockName = () =>
  value<string>((name, path) => {
    checkLockName(name, path);
    if (name.startsWith(RESERVED_LOCK_PREFIX)) throw invalidArgument(`lock names under ${RESERVED_LOCK_PREFIX} are reserved for the server; ${name} is one`);
  });

const leaseId = () => handedOut('a lease id from Grant');

/** Every field of every jobkeep.v1.LockService request. */
export const LOCK_SERVICE_REQUESTS: ServiceRules<typeof LockService> = {
  acquire: {
    name: clientLockName(),
    leaseId: leaseId(),
    wait: anyValue(),
    waitTimeoutMs: integer(0, LOCK_LIMITS.maxWaitTimeoutMs),
    lockDelayMs: integer(0, LOCK_LIMITS.maxLockDelayMs),
  },
  release: {
    name: clientLockName(),
    leaseId: leaseId(),
    fencingToken: handedOut('the fencing token Acquire gave'),
  },
  get: { name: lockName() },
  list: {
    prefix: value<string>((prefix) => void checkLockPrefix(prefix)),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
  forceRelease: { name: clientLockName() },
};
