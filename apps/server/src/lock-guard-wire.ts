import type { LockGuard as WireLockGuard } from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import type { LockGuard } from '@jobkeep/store';

/**
 * A write request's lock_guard. An absent message means an unfenced write; a present one must
 * name a lock and a token, since a guard that names nothing would fence nothing yet look as if
 * it did.
 */
export function lockGuardFromWire(guard: WireLockGuard | undefined): LockGuard | undefined {
  if (guard === undefined) return undefined;
  if (guard.lockName === '') throw invalidArgument('lock_guard.lock_name is required when lock_guard is set');
  if (guard.fencingToken === 0n) throw invalidArgument('lock_guard.fencing_token is required when lock_guard is set');
  if (guard.fencingToken > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(`lock_guard.fencing_token ${guard.fencingToken} is beyond any token the lock service gives out`);
  }
  return { lockName: guard.lockName, fencingToken: Number(guard.fencingToken) };
}
