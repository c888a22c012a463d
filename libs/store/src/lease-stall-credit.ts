import type { CoordinationDatabase } from './coordination-database.js';
import { creditStallInTx } from './lease-writes.js';
import type { Stall } from './stall-watch.js';

/** Told of each stall given back (how many leases got the time), or of the first failure to give one back. */
export type StallCreditObserver = (stall: Stall, leases: number, failure?: unknown) => void;

/**
 * What a StallWatch does with a stall: gives its time to every lease alive when it began, in a
 * transaction committed on the spot (writeNow), so that a credit is either durable before the
 * watch lets its clock run on, or failed, and then tried again at the next tick. Group-committed,
 * it could be undone after the fact by another decision's failed COMMIT, with the clock already
 * running on. A failure is told once per stall, not at every retry.
 */
export function leaseStallCredit(coordination: CoordinationDatabase, observer: StallCreditObserver = () => {}): (stall: Stall) => boolean {
  let failedStallSince: number | undefined;
  return (stall) => {
    let leases: number;
    try {
      leases = coordination.writeNow(() => creditStallInTx(coordination, stall));
    } catch (error) {
      if (failedStallSince !== stall.sinceMs) tell(observer, stall, 0, error);
      failedStallSince = stall.sinceMs;
      return false;
    }
    failedStallSince = undefined;
    tell(observer, stall, leases);
    return true;
  };
}

/** An observer that throws (a logger, metrics) must not stop the watch's timer, nor crash the process from it. */
function tell(observer: StallCreditObserver, stall: Stall, leases: number, failure?: unknown): void {
  try {
    observer(stall, leases, failure);
  } catch {
    // Observers only: the credit stands, or is tried again, whatever they do.
  }
}
