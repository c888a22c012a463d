import { SqliteHandle } from './sqlite-handle.js';

/**
 * coordination.db and the only way to change its leases and locks. Unlike NodeDatabase its
 * writes are synchronous: a lock decision (who holds, which token) must be made and committed
 * without yielding the event loop, so that nothing else in this process can interleave with it.
 */
export class CoordinationDatabase extends SqliteHandle {
  /** Runs `work` in its own write transaction, or inside the caller's when one is open. */
  write<T>(work: () => T): T {
    return this.inTransaction.immediate(work) as T;
  }
}
